/** The Confluence REST calls the control Worker makes (today: the user's own permission check). */

export * from "./permissions.ts";
