import { mount } from "../shared/ui.tsx";
import { MacroView } from "./view.tsx";

mount(<MacroView />);
