import { mount } from "../shared/ui.tsx";
import { StatusBoard } from "./status.tsx";

mount(<StatusBoard />);
