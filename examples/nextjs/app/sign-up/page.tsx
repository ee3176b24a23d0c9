import { redirect } from "next/navigation";
import { AuthForm } from "../../components/auth-form.tsx";
import { currentUser } from "../../lib/auth.ts";

export default async function SignUp() {
  if (await currentUser()) redirect("/");
  return <AuthForm mode="sign-up" />;
}
