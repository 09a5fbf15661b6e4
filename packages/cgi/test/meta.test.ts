import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decodeTargetPath, metaVariables, splitSafePath } from "../src/index.ts";

const target = { scriptName: "/s.php", filename: "/root/s.php", pathInfo: "", documentRoot: "/root" };

describe("meta-variables", () => {
  it("joins repeated headers, cookies with '; ', and skips Proxy, underscores and content headers", () => {
    const env = metaVariables(
      {
        method: "post",
        target: "/s.php?q",
        headers: [
          ["Accept", "a/b"],
          ["accept", "c/d"],
          ["Cookie", "a=1"],
          ["Cookie", "b=2"],
          ["Proxy", "http://evil"],
          ["X_Forwarded_For", "1.2.3.4"],
          ["Content-Type", "text/plain"],
          ["Content-Length", "5"],
          ["Host", "[::1]:8443"],
        ],
        https: true,
      },
      target,
      "q",
      5,
    );
    assert.equal(env.get("REQUEST_METHOD"), "POST");
    assert.equal(env.get("HTTP_ACCEPT"), "a/b, c/d");
    assert.equal(env.get("HTTP_COOKIE"), "a=1; b=2");
    assert.equal(env.get("HTTP_PROXY"), undefined);
    assert.equal(env.get("HTTP_X_FORWARDED_FOR"), undefined);
    assert.equal(env.get("HTTP_CONTENT_TYPE"), undefined);
    assert.equal(env.get("CONTENT_TYPE"), "text/plain");
    assert.equal(env.get("CONTENT_LENGTH"), "5");
    assert.equal(env.get("SERVER_NAME"), "[::1]");
    assert.equal(env.get("SERVER_PORT"), "443");
    assert.equal(env.get("HTTPS"), "on");
    assert.equal(env.get("PATH_TRANSLATED"), undefined);
  });

  it("refuses unsafe paths and decodes targets with the router's normaliser", () => {
    assert.equal(splitSafePath("/a/.git/config"), null);
    assert.equal(splitSafePath("/a\\b"), null);
    assert.equal(splitSafePath("relative"), null);
    assert.deepEqual(splitSafePath("/a//b/"), { segments: ["a", "b"], trailingSlash: true });
    assert.equal(decodeTargetPath("/a%20b.php?x=%2F"), "/a b.php");
    assert.equal(decodeTargetPath("/a/../../b.php"), "/b.php");
    assert.equal(decodeTargetPath("/a%2fb"), null);
    assert.equal(decodeTargetPath("/a%00"), null);
  });
});
