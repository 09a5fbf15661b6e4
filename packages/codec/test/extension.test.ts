import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  acceptPerMessageDeflateResponse,
  createPerMessageDeflateOffer,
  type ExtensionOffer,
  formatExtensionHeader,
  negotiatePerMessageDeflate,
  ProtocolError,
  parseExtensionHeader,
} from "../src/index.ts";

const isProtocol1002 = (e: unknown) => e instanceof ProtocolError && e.closeCode === 1002;

describe("Sec-WebSocket-Extensions", () => {
  it("parses names, bare and valued parameters, quoted tokens and whitespace", () => {
    assert.deepEqual(
      parseExtensionHeader('permessage-deflate; client_max_window_bits; server_max_window_bits="10" , x-foo;A=b,,'),
      [
        { name: "permessage-deflate", params: { client_max_window_bits: true, server_max_window_bits: "10" } },
        { name: "x-foo", params: { a: "b" } },
      ],
    );
    assert.deepEqual(parseExtensionHeader(""), []);
    assert.deepEqual(parseExtensionHeader("\tfoo\t;\tbar = baz"), [{ name: "foo", params: { bar: "baz" } }]);
  });
  it("rejects malformed headers with ProtocolError 1002", () => {
    for (const bad of [
      ";",
      "foo;",
      "foo; =1",
      "foo; a=",
      'foo; a="unterminated',
      'foo; a="not a token"',
      "foo bar",
      "foo; a=1 b",
      "fo@o",
      'foo; a=""',
    ]) {
      assert.throws(() => parseExtensionHeader(bad), isProtocol1002, bad);
    }
  });
  it("keeps a repeated parameter's first value and names it in `duplicate` (well-formed, RFC 6455 §9.1)", () => {
    assert.deepEqual(parseExtensionHeader("foo; a; b=2; a=3; b, bar; c"), [
      { name: "foo", params: { a: true, b: "2" }, duplicate: "a" },
      { name: "bar", params: { c: true } },
    ]);
  });
  it("formats and round-trips", () => {
    const offers: ExtensionOffer[] = [
      { name: "permessage-deflate", params: { client_max_window_bits: true, server_no_context_takeover: true } },
      { name: "x", params: { k: "v" } },
    ];
    const header = formatExtensionHeader(offers);
    assert.equal(header, "permessage-deflate; client_max_window_bits; server_no_context_takeover, x; k=v");
    assert.deepEqual(parseExtensionHeader(header), offers);
  });
});

describe("permessage-deflate negotiation (server)", () => {
  const negotiate = (header: string, options = {}) => negotiatePerMessageDeflate(parseExtensionHeader(header), options);

  it("accepts a plain offer with defaults", () => {
    assert.deepEqual(negotiate("permessage-deflate"), {
      params: {
        serverNoContextTakeover: false,
        clientNoContextTakeover: false,
        serverMaxWindowBits: 15,
        clientMaxWindowBits: 15,
      },
      response: { name: "permessage-deflate", params: {} },
    });
  });
  it("honours the client's parameters and the server's options", () => {
    const r = negotiate(
      "permessage-deflate; server_no_context_takeover; client_max_window_bits; server_max_window_bits=12",
      {
        clientNoContextTakeover: true,
        clientMaxWindowBits: 10,
        serverMaxWindowBits: 14,
      },
    );
    assert.deepEqual(r?.params, {
      serverNoContextTakeover: true,
      clientNoContextTakeover: true,
      serverMaxWindowBits: 12,
      clientMaxWindowBits: 10,
    });
    assert.equal(
      formatExtensionHeader([r!.response]),
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=12; client_max_window_bits=10",
    );
  });
  it("falls back to the next offer and ignores other extensions", () => {
    const r = negotiate(
      "x-other, permessage-deflate; server_max_window_bits=8, permessage-deflate; client_max_window_bits",
      {
        clientMaxWindowBits: 11,
      },
    );
    assert.equal(r?.params.clientMaxWindowBits, 11);
    assert.equal(r?.params.serverMaxWindowBits, 15);
  });
  it("declines when the server must limit the client window but the client cannot", () => {
    assert.equal(negotiate("permessage-deflate", { clientMaxWindowBits: 10 }), undefined);
    assert.equal(negotiate("x-other"), undefined);
  });
  it("declines invalid offers (RFC 7692 §7) and takes the next valid one", () => {
    for (const bad of [
      "permessage-deflate; server_no_context_takeover=1",
      "permessage-deflate; client_no_context_takeover=x",
      "permessage-deflate; server_max_window_bits",
      "permessage-deflate; server_max_window_bits=7",
      "permessage-deflate; server_max_window_bits=16",
      "permessage-deflate; server_max_window_bits=010",
      "permessage-deflate; client_max_window_bits=abc",
      "permessage-deflate; client_max_window_bits=7",
      "permessage-deflate; unknown_param",
      "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
      "permessage-deflate; server_max_window_bits=10; server_max_window_bits=11",
    ]) {
      assert.equal(negotiate(bad), undefined, bad);
      const next = negotiate(`${bad}, permessage-deflate; client_no_context_takeover`);
      assert.deepEqual(
        next?.response,
        { name: "permessage-deflate", params: { client_no_context_takeover: true } },
        bad,
      );
    }
  });
});

describe("permessage-deflate negotiation (client)", () => {
  it("offers client_max_window_bits and the requested limits", () => {
    assert.equal(formatExtensionHeader([createPerMessageDeflateOffer()]), "permessage-deflate; client_max_window_bits");
    assert.equal(
      formatExtensionHeader([
        createPerMessageDeflateOffer({
          serverNoContextTakeover: true,
          serverMaxWindowBits: 10,
          clientMaxWindowBits: 12,
        }),
      ]),
      "permessage-deflate; server_no_context_takeover; server_max_window_bits=10; client_max_window_bits=12",
    );
  });
  it("accepts a valid response and negotiates end to end", () => {
    const options = { clientMaxWindowBits: 12 };
    const server = negotiatePerMessageDeflate([createPerMessageDeflateOffer(options)], {
      serverNoContextTakeover: true,
    });
    const client = acceptPerMessageDeflateResponse(server!.response, options);
    assert.deepEqual(client, server!.params);
  });
  it("rejects invalid or incompatible responses", () => {
    const resp = (h: string) => parseExtensionHeader(h)[0]!;
    for (const [h, opts] of [
      ["permessage-deflate; client_max_window_bits", {}],
      ["permessage-deflate; server_max_window_bits=12", { serverMaxWindowBits: 10 }],
      ["permessage-deflate", { serverMaxWindowBits: 10 }],
      ["permessage-deflate; client_max_window_bits=13", { clientMaxWindowBits: 12 }],
      ["permessage-deflate", { serverNoContextTakeover: true }],
      ["permessage-deflate; foo", {}],
      ["permessage-deflate; server_no_context_takeover; server_no_context_takeover", {}],
      ["permessage-deflate; client_max_window_bits=10; client_max_window_bits=10", {}],
      ["x-other", {}],
    ] as const) {
      assert.throws(() => acceptPerMessageDeflateResponse(resp(h), opts), isProtocol1002, h);
    }
  });
});
