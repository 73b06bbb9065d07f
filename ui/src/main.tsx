import { render } from "preact";
import "./app.css";

function App() {
  return <p>Palisade</p>;
}

const root = document.getElementById("root");
if (root !== null) render(<App />, root);
