/**
 * @module @wirehouse/codec
 */
export {};
