import type { Metadata } from "next";
import { connection } from "next/server";
import type { ReactNode } from "react";
import { ApiProvider } from "../components/api-provider.tsx";
import "./globals.css";

export const metadata: Metadata = { title: "Tasks" };

export default async function RootLayout({ children }: { children: ReactNode }) {
  // API_URL is read per request rather than inlined at build time (as NEXT_PUBLIC_* variables
  // are), so one build runs against an API at any address.
  await connection();
  return (
    <html lang="en">
      <body>
        <ApiProvider url={process.env.API_URL ?? "http://localhost:8000"}>{children}</ApiProvider>
      </body>
    </html>
  );
}
