import { toNextJsHandler } from "better-auth/next-js";
import { getAuth } from "../../../../lib/auth.ts";

export const { GET, POST } = toNextJsHandler((request) => getAuth().handler(request));
