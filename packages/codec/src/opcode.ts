/**
 * Frame opcodes (RFC 6455 §5.2, §11.8).
 * @module
 */

/** The opcodes defined by RFC 6455. Every other value (3–7, 11–15) is reserved. */
export const Opcode = {
  Continuation: 0,
  Text: 1,
  Binary: 2,
  Close: 8,
  Ping: 9,
  Pong: 10,
} as const;

/** One of the defined opcode values. */
export type Opcode = (typeof Opcode)[keyof typeof Opcode];

/** RFC 6455 §5.5: control frames have the most significant opcode bit set. */
export function isControlOpcode(opcode: number): boolean {
  return (opcode & 0x8) !== 0;
}

/** True for 0, 1, 2, 8, 9, 10; false for the reserved opcodes. */
export function isKnownOpcode(opcode: number): boolean {
  return opcode <= 2 || (opcode >= 8 && opcode <= 10);
}
