#!/usr/bin/env node
/** The `undici-redis-cache` bin: runs cli/main.ts on this process's argv, streams and environment. */
import { main } from './cli/main.js'

// `| head` closes the pipe early: stop quietly instead of crashing on EPIPE.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error
  process.exit(0)
})

process.exitCode = await main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env })
