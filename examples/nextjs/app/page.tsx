import { redirect } from "next/navigation";
import { TaskBoard } from "../components/task-board.tsx";
import { currentUser } from "../lib/auth.ts";

export default async function Home() {
  const user = await currentUser();
  if (!user) redirect("/sign-in");
  return <TaskBoard user={user} />;
}
