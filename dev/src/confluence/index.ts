/** The Confluence side of the local stand-in (DESIGN §7): the REST endpoints the product calls. */

export * from "./standin.ts";
