import { gatewaySuite } from "./gateway-suite.ts";

gatewaySuite("fastcgi");
