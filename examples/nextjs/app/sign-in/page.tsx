import { redirect } from "next/navigation";
import { AuthForm } from "../../components/auth-form.tsx";
import { currentUser } from "../../lib/auth.ts";

export default async function SignIn() {
  if (await currentUser()) redirect("/");
  return <AuthForm mode="sign-in" />;
}
