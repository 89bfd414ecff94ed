/**
 * The Confluence side of the local stand-in (DESIGN §7): the REST endpoints the control Worker calls,
 * answered the way Confluence Cloud answers them, for a few sample users with different permissions.
 *
 *   GET /wiki/api/v2/pages/{id}/operations       → 200 {operations:[{operation, targetType:"page"}]}
 *   GET /wiki/api/v2/blogposts/{id}/operations   → 200 {operations:[{operation, targetType:"blogpost"}]}
 *   GET /wiki/rest/api/user/current?expand=operations
 *                                                → 200 {accountId, operations:[{operation:"use"|"administer",
 *                                                   targetType:"application"}, …]} (v1 "Get current user";
 *                                                   `administer application` = Confluence administrator)
 *
 * Every path may also be asked under `/ex/confluence/{cloudId}` — how Forge's `app.apiBaseUrl` names a
 * site (`https://api.atlassian.com/ex/confluence/<cloudId>`); content that belongs to another site
 * then answers 404, so two local Confluence sites (two tenants) never see each other's pages.
 *
 * As Confluence does: a missing or unknown bearer token is 401; content that does not exist — or that
 * the user may not even read (a restricted page) — is 404, because Confluence does not confirm the
 * existence of content a user cannot see; a user who may read but not edit gets `read` only.
 * (Confluence Cloud REST v2, "Get permitted operations for page" / "for blog post".)
 *
 * It also plays Atlassian's personal data reporting API (developer.atlassian.com/platform/forge/
 * user-privacy-guidelines), which lives on the same API host in production:
 *
 *   POST /app/report-accounts/ {accounts:[{accountId, updatedAt}]}  (1–90 accounts, the app's token)
 *                                                → 204 nothing to do, or 200 {accounts:[{accountId,
 *                                                   status:"closed"|"updated"}]}; 429 + Retry-After
 *                                                   (or 5xx) when `refuseReports` says so; 400 for a bad body
 *
 * Tokens are random and issued per user by `tokenFor(user)`; they stand for the `x-forge-oauth-user`
 * token Forge hands the control Worker. `systemTokenFor(installationId)` issues the app's own token
 * (`x-forge-oauth-system`), the only kind the reporting API takes. A fault switch (`setFault`) makes every call answer 503, hang,
 * return a malformed body or drop the connection, so tests can show a Confluence outage denies.
 */

import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export type StandInContentType = "page" | "blogpost";
export type StandInOperation = "read" | "update";

export interface StandInContent {
  readonly id: string;
  readonly type: StandInContentType;
  readonly title?: string;
  /** The site (cloudId) the content lives on; unset: answered under every site. */
  readonly cloudId?: string;
  /**
   * Trashed content can still be read (from the space's trash) but not edited, until it is deleted
   * for good; deleted content answers 404 to everyone.
   */
  readonly status?: "current" | "trashed" | "deleted";
}

/** The sample users: what each may do on ordinary (unrestricted) content. */
export const SAMPLE_USERS = {
  /** Reads every unrestricted page, edits nothing. */
  viewer: ["read"],
  /** Reads and edits every unrestricted page. */
  editor: ["read", "update"],
  /** Licensed on another site: sees nothing here. */
  outsider: [],
  /** A Confluence administrator (the admin page's user); reads and edits unrestricted pages. */
  admin: ["read", "update"],
} as const satisfies Record<string, readonly StandInOperation[]>;

/** Sample users Confluence says administer the application (DESIGN §6.4: the admin page's gate). */
export const SAMPLE_ADMINS: readonly SampleUser[] = ["admin"];

export type SampleUser = keyof typeof SAMPLE_USERS;

/** Account ids in Atlassian's `557058:<uuid>` form, stable so FITs and audit rows can name them. */
export const SAMPLE_ACCOUNT_IDS: Readonly<Record<SampleUser, string>> = {
  viewer: "557058:00000000-0000-4000-8000-0000000000a1",
  editor: "557058:00000000-0000-4000-8000-0000000000a2",
  outsider: "557058:00000000-0000-4000-8000-0000000000a3",
  admin: "557058:00000000-0000-4000-8000-0000000000a4",
};

/** Sample content: two ordinary pages, a blog post, and a page restricted to nobody but its owner. */
export const SAMPLE_CONTENT: readonly StandInContent[] = [
  { id: "1001", type: "page", title: "Team dashboard" },
  { id: "1002", type: "page", title: "Copy of Team dashboard" },
  { id: "2001", type: "blogpost", title: "Release notes" },
  { id: "3001", type: "page", title: "Restricted: incident review" },
];

/** The restricted sample page: no sample user may read it until a test grants it with setPermission. */
export const RESTRICTED_PAGE_ID = "3001";

export type ConfluenceFault = "none" | "unavailable" | "hang" | "malformed" | "reset";

export interface ConfluenceStandInOptions {
  readonly port?: number;
  readonly pages?: readonly StandInContent[];
  /** Users and their default operations on unrestricted content; defaults to SAMPLE_USERS. */
  readonly users?: Readonly<Record<string, readonly StandInOperation[]>>;
  /** Users who are Confluence administrators; defaults to SAMPLE_ADMINS. */
  readonly admins?: readonly string[];
  /** Account ids of the users, answered by `user/current`; defaults to SAMPLE_ACCOUNT_IDS. */
  readonly accountIds?: Readonly<Record<string, string>>;
}

export interface ConfluenceStandIn {
  /** `http://127.0.0.1:<port>`: the value for a FIT's `app.apiBaseUrl` in the dev stack. */
  readonly url: string;
  /** The bearer token of `user` (issued once, stable for this stand-in's life). */
  tokenFor(user: string): string;
  /**
   * Overrides what `user` may do on one piece of content (an empty list = a restriction that hides it).
   * `undefined` removes the override.
   */
  setPermission(user: string, contentId: string, operations: readonly StandInOperation[] | undefined): void;
  /** Adds (or replaces) a piece of content, e.g. the copy of a page. */
  addContent(content: StandInContent): void;
  /** What `user` may do on `contentId` (overrides and restrictions applied; status ignored). */
  operationsOf(user: string, contentId: string): readonly StandInOperation[];
  /** Trashes, restores or deletes content (trashed: read only; deleted: 404). */
  setStatus(contentId: string, status: "current" | "trashed" | "deleted"): void;
  /** Makes `user` a Confluence administrator, or takes it back. */
  setAdmin(user: string, admin: boolean): void;
  setFault(fault: ConfluenceFault): void;
  /** Operations requests received (every outcome), for cache tests. */
  readonly requests: number;
  /** The app's system token for an installation (what Forge sends as `x-forge-oauth-system`). */
  systemTokenFor(installationId: string): string;
  /** Atlassian closes this account: the next report of it answers `closed`. */
  closeAccount(accountId: string): void;
  /** The account's profile changed at `at`: a report with an older `updatedAt` answers `updated`. */
  updateAccount(accountId: string, at?: number): void;
  /**
   * After `after` more accepted reports (default 0), the next `count` answer `status` — 429 comes with
   * `Retry-After: retryAfterSeconds` — as Atlassian's rate limit or an outage would.
   */
  refuseReports(refusal: {
    count: number;
    status: 429 | 500 | 503;
    retryAfterSeconds?: number;
    after?: number;
  }): void;
  /** Every report accepted so far, in order: which installation sent which accounts. */
  readonly reports: readonly PersonalDataReport[];
  close(): Promise<void>;
}

export interface PersonalDataReport {
  readonly installationId: string;
  readonly accounts: readonly { readonly accountId: string; readonly updatedAt: string }[];
  /** What the stand-in answered: 204, or 200 with these statuses. */
  readonly answered: readonly { readonly accountId: string; readonly status: "closed" | "updated" }[];
}

/** `@forge/api` privacy.LIMIT: the reporting API takes at most this many accounts per request. */
export const REPORT_ACCOUNTS_LIMIT = 90;
const REPORT_PATH = /^\/app\/report-accounts\/?$/;
const ACCOUNT_ID = /^[A-Za-z0-9:-]{1,128}$/;
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

const OPERATIONS_PATH = /^\/wiki\/api\/v2\/(pages|blogposts)\/([^/]+)\/operations$/;
const CURRENT_USER_PATH = "/wiki/rest/api/user/current";
/** Forge's per-site API base: `/ex/confluence/<cloudId>` before the product path. */
const SITE_PREFIX = /^\/ex\/confluence\/([0-9a-zA-Z-]{1,64})(\/.*)$/;

function send(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
}

/** Confluence's v2 error envelope. */
function errorBody(status: number, title: string, detail: string) {
  return { errors: [{ status, code: title.toUpperCase().replace(/ /g, "_"), title, detail }] };
}

export async function startConfluenceStandIn(
  options: ConfluenceStandInOptions = {},
): Promise<ConfluenceStandIn> {
  const users = new Map(Object.entries(options.users ?? SAMPLE_USERS));
  const content = new Map<string, StandInContent>((options.pages ?? SAMPLE_CONTENT).map((c) => [c.id, c]));
  const tokens = new Map<string, string>(); // token → user
  const issued = new Map<string, string>(); // user → token
  const overrides = new Map<string, readonly StandInOperation[]>(); // `${user}\n${contentId}`
  if (options.pages === undefined) {
    for (const user of users.keys()) overrides.set(`${user}\n${RESTRICTED_PAGE_ID}`, []);
  }
  const admins = new Set<string>(options.admins ?? SAMPLE_ADMINS);
  const accountIds: Readonly<Record<string, string>> = options.accountIds ?? SAMPLE_ACCOUNT_IDS;
  let fault: ConfluenceFault = "none";
  let requests = 0;
  const hanging = new Set<ServerResponse>();

  function operationsOf(user: string, contentId: string): readonly StandInOperation[] {
    return overrides.get(`${user}\n${contentId}`) ?? users.get(user) ?? [];
  }

  const systemTokens = new Map<string, string>(); // token → installation id
  const closedAccounts = new Set<string>();
  const accountChanges = new Map<string, number>(); // account id → when its profile changed (ms)
  const reports: PersonalDataReport[] = [];
  let refusal = { count: 0, status: 429, retryAfterSeconds: 1, after: 0 };

  /** The reporting API: validates as Atlassian documents it, answers from the accounts' states. */
  async function handleReport(request: IncomingMessage, response: ServerResponse): Promise<void> {
    if (request.method !== "POST") {
      response.writeHead(405, { allow: "POST" }).end();
      return;
    }
    const bearer = /^Bearer (\S+)$/.exec(request.headers.authorization ?? "")?.[1];
    const installationId = bearer === undefined ? undefined : systemTokens.get(bearer);
    if (installationId === undefined) {
      send(response, 401, { message: "Only the app's own token may report personal data." });
      return;
    }
    if (refusal.count > 0 && refusal.after === 0) {
      refusal = { ...refusal, count: refusal.count - 1 };
      const headers: Record<string, string> = { "content-type": "application/json" };
      if (refusal.status === 429) headers["retry-after"] = String(refusal.retryAfterSeconds);
      response
        .writeHead(refusal.status, headers)
        .end(JSON.stringify({ message: "Refused by the stand-in." }));
      return;
    }
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    let body: unknown;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    } catch {
      send(response, 400, { message: "The body is not JSON." });
      return;
    }
    const list = (body as { accounts?: unknown } | null)?.accounts;
    if (!Array.isArray(list) || list.length === 0 || list.length > REPORT_ACCOUNTS_LIMIT) {
      send(response, 400, { message: `accounts must hold 1 to ${REPORT_ACCOUNTS_LIMIT} entries.` });
      return;
    }
    const accounts: { accountId: string; updatedAt: string }[] = [];
    for (const item of list) {
      const { accountId, updatedAt } = (item ?? {}) as { accountId?: unknown; updatedAt?: unknown };
      if (typeof accountId !== "string" || !ACCOUNT_ID.test(accountId)) {
        send(response, 400, { message: "accountId must be 1-128 letters, digits, '-' or ':'." });
        return;
      }
      if (
        typeof updatedAt !== "string" ||
        !ISO_INSTANT.test(updatedAt) ||
        Number.isNaN(Date.parse(updatedAt))
      ) {
        send(response, 400, { message: "updatedAt must be an ISO 8601 date-time." });
        return;
      }
      accounts.push({ accountId, updatedAt });
    }
    type Answer = { accountId: string; status: "closed" | "updated" };
    const answered = accounts.flatMap(({ accountId, updatedAt }): Answer[] => {
      if (closedAccounts.has(accountId)) return [{ accountId, status: "closed" }];
      const changed = accountChanges.get(accountId);
      return changed !== undefined && changed > Date.parse(updatedAt)
        ? [{ accountId, status: "updated" }]
        : [];
    });
    reports.push({ installationId, accounts, answered });
    if (refusal.after > 0) refusal = { ...refusal, after: refusal.after - 1 };
    if (answered.length === 0) response.writeHead(204).end();
    else send(response, 200, { accounts: answered });
  }

  function handle(request: IncomingMessage, response: ServerResponse): void {
    const fullPath = new URL(request.url ?? "/", "http://127.0.0.1").pathname;
    if (REPORT_PATH.test(fullPath)) {
      if (fault !== "none") {
        requests++;
        if (fault === "reset") request.socket.destroy();
        else if (fault === "hang") hanging.add(response);
        else send(response, 503, { message: "Atlassian is unavailable." });
        return;
      }
      handleReport(request, response).catch(() => {
        if (!response.headersSent) send(response, 500, { message: "stand-in failure" });
      });
      return;
    }
    const site = SITE_PREFIX.exec(fullPath);
    const cloudId = site?.[1];
    const path = site?.[2] ?? fullPath;
    const match = OPERATIONS_PATH.exec(path);
    if (match === null && path !== CURRENT_USER_PATH) {
      send(response, 404, errorBody(404, "Not Found", "No such endpoint in the Confluence stand-in."));
      return;
    }
    requests++;
    if (fault === "reset") {
      request.socket.destroy();
      return;
    }
    if (fault === "hang") {
      hanging.add(response);
      return;
    }
    if (fault === "unavailable") {
      send(response, 503, errorBody(503, "Service Unavailable", "Confluence is unavailable."));
      return;
    }
    if (request.method !== "GET") {
      response.writeHead(405, { allow: "GET" }).end();
      return;
    }
    const authorization = request.headers.authorization ?? "";
    const bearer = /^Bearer (\S+)$/.exec(authorization)?.[1];
    const user = bearer === undefined ? undefined : tokens.get(bearer);
    if (user === undefined) {
      send(response, 401, errorBody(401, "Unauthorized", "The token is missing or invalid."));
      return;
    }
    if (match === null) {
      // v1 "Get current user" with expand=operations: global operations of the token's own user.
      const operations = [{ operation: "use", targetType: "application" }];
      if (admins.has(user)) operations.push({ operation: "administer", targetType: "application" });
      if (fault === "malformed") {
        send(response, 200, { results: "not the user shape" });
        return;
      }
      send(response, 200, { type: "known", accountId: accountIds[user] ?? user, operations });
      return;
    }
    const [, collection, id] = match as unknown as [string, string, string];
    const type: StandInContentType = collection === "pages" ? "page" : "blogpost";
    const item = content.get(id);
    const operations = operationsOf(user, id);
    // Content of another type, unknown content, and content the user may not read all look the same.
    const elsewhere = cloudId !== undefined && item?.cloudId !== undefined && item.cloudId !== cloudId;
    const gone = item?.status === "deleted";
    if (item === undefined || elsewhere || gone || item.type !== type || !operations.includes("read")) {
      send(response, 404, errorBody(404, "Not Found", `No ${type} with id ${id} was found.`));
      return;
    }
    if (fault === "malformed") {
      send(response, 200, { results: "not the operations shape" });
      return;
    }
    const permitted = item.status === "trashed" ? operations.filter((o) => o === "read") : operations;
    send(response, 200, { operations: permitted.map((operation) => ({ operation, targetType: type })) });
  }

  const server = createServer(handle);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    tokenFor(user) {
      if (!users.has(user)) throw new RangeError(`the Confluence stand-in has no user ${user}`);
      let token = issued.get(user);
      if (token === undefined) {
        token = `cst_${randomBytes(24).toString("base64url")}`;
        issued.set(user, token);
        tokens.set(token, user);
      }
      return token;
    },
    setPermission(user, contentId, operations) {
      const key = `${user}\n${contentId}`;
      if (operations === undefined) overrides.delete(key);
      else overrides.set(key, [...operations]);
    },
    addContent(item) {
      content.set(item.id, item);
    },
    operationsOf,
    setStatus(contentId, status) {
      const item = content.get(contentId);
      if (item !== undefined) content.set(contentId, { ...item, status });
    },
    setAdmin(user, admin) {
      if (admin) admins.add(user);
      else admins.delete(user);
    },
    setFault(next) {
      fault = next;
      if (next !== "hang") {
        for (const response of hanging) response.socket?.destroy();
        hanging.clear();
      }
    },
    get requests() {
      return requests;
    },
    systemTokenFor(installationId) {
      for (const [token, id] of systemTokens) if (id === installationId) return token;
      const token = `ast_${randomBytes(24).toString("base64url")}`;
      systemTokens.set(token, installationId);
      return token;
    },
    closeAccount(accountId) {
      closedAccounts.add(accountId);
    },
    updateAccount(accountId, at = Date.now()) {
      accountChanges.set(accountId, at);
    },
    refuseReports(next) {
      refusal = { retryAfterSeconds: 1, after: 0, ...next };
    },
    reports,
    close() {
      for (const response of hanging) response.socket?.destroy();
      hanging.clear();
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
