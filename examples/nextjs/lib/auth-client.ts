import { jwtClient } from "better-auth/client/plugins";
import { createAuthClient } from "better-auth/react";

// No baseURL: the browser talks to the Better Auth routes of the page's own origin.
export const authClient = createAuthClient({ plugins: [jwtClient()] });
