/** Vite bundles CSS imported from modules; the import has no value. */
declare module "*.css";
