import { mount } from "../shared/ui.tsx";
import { AdminPage } from "./admin.tsx";

mount(<AdminPage />);
