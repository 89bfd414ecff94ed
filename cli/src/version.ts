/** The CLI's version: the same as cli/package.json (cli/test/package.test.ts holds them together). */
export const VERSION = "0.1.0";
