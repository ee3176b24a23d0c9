"use client";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { type FormEvent, useEffect, useState } from "react";
import { authClient } from "../lib/auth-client.ts";
import { forgetApiToken } from "../lib/token.ts";

export function AuthForm({ mode }: { mode: "sign-in" | "sign-up" }) {
  const router = useRouter();
  const [problem, setProblem] = useState<string>();
  const [busy, setBusy] = useState(false);
  const signingUp = mode === "sign-up";

  // The server sends a signed-in person on from this page, but going Back after signing in shows
  // it from the router's cache, rendered when they were signed out: ask once more here.
  useEffect(() => {
    void authClient.getSession().then(({ data }) => {
      if (data) router.replace("/");
    });
  }, [router]);

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const email = String(form.get("email"));
    const password = String(form.get("password"));
    setBusy(true);
    const { error } = signingUp
      ? await authClient.signUp.email({ email, password, name: String(form.get("name")) })
      : await authClient.signIn.email({ email, password });
    setBusy(false);
    if (error) return setProblem(error.message ?? error.statusText);
    forgetApiToken();
    // Replace: Back from the board should not return to a form that is done with.
    router.replace("/");
  }

  return (
    <main className="page narrow">
      <h1>{signingUp ? "Create an account" : "Sign in"}</h1>
      <form onSubmit={submit} className="stack">
        {signingUp && (
          <label>
            Name
            <input name="name" required autoComplete="name" />
          </label>
        )}
        <label>
          Email
          <input name="email" type="email" required autoComplete="email" />
        </label>
        <label>
          Password
          <input
            name="password"
            type="password"
            required
            minLength={8}
            autoComplete={signingUp ? "new-password" : "current-password"}
          />
        </label>
        {problem && <p role="alert">{problem}</p>}
        <button type="submit" disabled={busy}>
          {signingUp ? "Sign up" : "Sign in"}
        </button>
      </form>
      <p>
        {signingUp ? (
          <>
            Have an account? <Link href="/sign-in">Sign in</Link>
          </>
        ) : (
          <>
            New here? <Link href="/sign-up">Create an account</Link>
          </>
        )}
      </p>
    </main>
  );
}
