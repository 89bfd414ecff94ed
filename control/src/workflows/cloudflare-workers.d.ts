/**
 * The part of workerd's `cloudflare:workers` module the control Worker uses (Workflows, Durable Objects), declared
 * here because the control program does not load @cloudflare/workers-types as a whole (see
 * control/src/env.ts). Shapes follow @cloudflare/workers-types 5.20261103.1.
 */

declare module "cloudflare:workers" {
  export type WorkflowDurationLabel = "second" | "minute" | "hour" | "day" | "week" | "month" | "year";
  export type WorkflowSleepDuration = `${number} ${WorkflowDurationLabel}${"s" | ""}` | number;
  export type WorkflowBackoff = "constant" | "linear" | "exponential";

  export interface WorkflowStepConfig {
    retries?: { limit: number; delay: WorkflowSleepDuration; backoff?: WorkflowBackoff };
    timeout?: WorkflowSleepDuration;
  }

  export interface WorkflowEvent<T> {
    readonly payload: Readonly<T>;
    readonly timestamp: Date;
    readonly instanceId: string;
  }

  export abstract class WorkflowStep {
    do<T>(name: string, callback: () => Promise<T>): Promise<T>;
    do<T>(name: string, config: WorkflowStepConfig, callback: () => Promise<T>): Promise<T>;
    sleep(name: string, duration: WorkflowSleepDuration): Promise<void>;
  }

  export abstract class WorkflowEntrypoint<Env = unknown, T = unknown> {
    protected ctx: unknown;
    protected env: Env;
    constructor(ctx: unknown, env: Env);
    run(event: Readonly<WorkflowEvent<T>>, step: WorkflowStep): Promise<unknown>;
  }

  export interface DurableObjectStorage {
    get<T = unknown>(key: string): Promise<T | undefined>;
    put<T>(key: string, value: T): Promise<void>;
  }

  export interface DurableObjectState {
    readonly storage: DurableObjectStorage;
    blockConcurrencyWhile<T>(callback: () => Promise<T>): Promise<T>;
  }

  export abstract class DurableObject<Env = unknown> {
    protected ctx: DurableObjectState;
    protected env: Env;
    constructor(ctx: DurableObjectState, env: Env);
  }
}
