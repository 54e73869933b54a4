import { createApp } from "./app";

// The main module exports only the handler: workerd rejects any other value export.
export default createApp();
