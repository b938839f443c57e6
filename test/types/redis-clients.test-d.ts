/**
 * Type-level checks that `{ client }` takes a client of each node-redis major the README lists,
 * compiled by `tsc -p test/tsconfig.json --noEmit` and never run. The store's own types import no
 * redis 5 or 6 types: only this test does, as a consumer would.
 */
import { createClient as createClient4 } from 'redis'
import { createClient as createClient5, RESP_TYPES } from 'redis5'
import { createClient as createClient6 } from 'redis6'
import { RedisStore, type RedisStoreOptions } from '../../lib/index.js'

export function clientTypeChecks(): void {
  void new RedisStore({ client: createClient4({ url: 'redis://x' }) })
  void new RedisStore({ client: createClient5({ url: 'redis://x' }), namespace: 'app' })
  void new RedisStore({ client: createClient6({ url: 'redis://x' }), ttl: false })
  // Clients with modules, RESP3 and a type mapping are clients all the same.
  const mapped = createClient6({ RESP: 3, commandOptions: { typeMapping: { [RESP_TYPES.BLOB_STRING]: Buffer } } })
  const options: RedisStoreOptions = { client: mapped }
  void new RedisStore(options)
  void new RedisStore({ client: createClient5().withTypeMapping({ [RESP_TYPES.MAP]: Map }) })

  // @ts-expect-error a client and client options are mutually exclusive, whatever the major
  void new RedisStore({ client: createClient6(), url: 'redis://x' })
  // @ts-expect-error an object without the node-redis client shape (ioredis has no isOpen/isReady)
  void new RedisStore({ client: { connect: async () => undefined, multi: () => undefined, status: 'ready' } })
}
