/** Runs the check worker for one drop and reports its progress. */

import type { CheckMessage, CheckRequest, CheckResult } from "./check-protocol.ts";

export function checkInWorker(
  request: CheckRequest,
  onProgress: (filesDone: number, filesTotal: number) => void,
): Promise<CheckResult> {
  // Vite builds the worker as a file of its own next to the resource (`base: './'`), which Forge's
  // CSP allows as 'self'; a blob: worker would be refused.
  const worker = new Worker(new URL("./check.worker.ts", import.meta.url), { type: "module" });
  return new Promise((resolve, reject) => {
    worker.addEventListener("message", (event: MessageEvent<CheckMessage>) => {
      const message = event.data;
      if (message.type === "progress") onProgress(message.filesDone, message.filesTotal);
      else {
        worker.terminate();
        if (message.type === "done") resolve(message.result);
        else reject(new Error(message.message));
      }
    });
    worker.addEventListener("error", (event) => {
      worker.terminate();
      reject(new Error(event.message || "The check could not run in this browser."));
    });
    worker.postMessage(request);
  });
}
