import { mount } from "../shared/ui.tsx";
import { Publisher } from "./publisher.tsx";

mount(<Publisher />);
