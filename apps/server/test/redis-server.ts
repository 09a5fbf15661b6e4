// The redis-server fixture is the one @wirehouse/pubsub-redis's tests use: start
// it on a free loopback port without persistence, fail clearly when missing.
export { freePort, type RedisProcess, startRedis } from "../../../packages/pubsub-redis/test/redis-server.ts";
