import { gatewaySuite, missingProgramTests } from "./gateway-suite.ts";

gatewaySuite("cgi");
missingProgramTests();
