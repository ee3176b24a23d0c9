"use client";
import { createContext, type ReactNode, use, useMemo } from "react";
import { type Api, createApi } from "../lib/api.ts";

const ApiContext = createContext<{ api: Api; url: string } | null>(null);

export function ApiProvider({ url, children }: { url: string; children: ReactNode }) {
  const value = useMemo(() => ({ api: createApi(url), url }), [url]);
  return <ApiContext value={value}>{children}</ApiContext>;
}

export function useApi() {
  const value = use(ApiContext);
  if (!value) throw new Error("useApi() outside <ApiProvider>");
  return value;
}
