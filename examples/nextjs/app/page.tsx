import { TaskBoard } from "../components/task-board.tsx";

export default function Home() {
  return <TaskBoard />;
}
