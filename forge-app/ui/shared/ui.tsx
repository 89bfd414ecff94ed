/** Small building blocks shared by the view, the publisher and the admin page. */

import { view } from "@forge/bridge";
import type { ReactNode } from "react";
import { createRoot } from "react-dom/client";
import "./styles.css";

export type Tone = "neutral" | "danger" | "warning" | "success";

/** One clear state: a title, a sentence, maybe an action. `testId` names the state for tests and people. */
export function StateMessage(props: {
  readonly testId: string;
  readonly title: string;
  readonly tone?: Tone;
  readonly children?: ReactNode;
}) {
  return (
    <section
      className="ms-state"
      data-testid={props.testId}
      data-tone={props.tone ?? "neutral"}
      role="status"
    >
      <h2>{props.title}</h2>
      {props.children}
    </section>
  );
}

export function Button(props: {
  readonly children: ReactNode;
  readonly onClick?: () => void;
  readonly appearance?: "primary" | "danger" | "default";
  readonly disabled?: boolean;
  readonly testId?: string;
  readonly type?: "button" | "submit";
}) {
  return (
    <button
      type={props.type ?? "button"}
      className="ms-button"
      data-appearance={props.appearance ?? "default"}
      disabled={props.disabled}
      onClick={props.onClick}
      data-testid={props.testId}
    >
      {props.children}
    </button>
  );
}

/** Mounts a resource's root after asking the host for its theme (light/dark follows Confluence). */
export function mount(app: ReactNode): void {
  // Theming is best-effort: a host without it still renders the UI with the light fallbacks.
  view.theme.enable().catch(() => undefined);
  const element = document.getElementById("root");
  if (element === null) throw new Error("index.html has no #root");
  createRoot(element).render(app);
}
