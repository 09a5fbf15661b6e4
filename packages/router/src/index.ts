/**
 * @module @wirehouse/router
 */
export {};
