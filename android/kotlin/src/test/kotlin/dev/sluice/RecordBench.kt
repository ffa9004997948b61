package dev.sluice

import java.io.File

/**
 * record() latency from the JVM through JNI: N events with two headers from T
 * threads, the clock around each call only; offline, so nothing uploads.
 * Not a test: tests/bench/mobile.sh runs it with `java` and prints one JSON line.
 * Usage: RecordBench DATA_DIR THREADS N
 */
object RecordBench {
    private val screens = arrayOf("home", "search", "cart", "settings")
    private val actions = arrayOf("tap", "scroll", "swipe", "open", "close", "share", "like", "play", "pause", "buy")

    @JvmStatic
    fun main(args: Array<String>) {
        val (dir, threads, n) = Triple(File(args[0]), args[1].toInt(), args[2].toInt())
        val config = "[mobile]\nmax_bytes = \"512MiB\"\n[sinks.up]\ntype = \"null\"\n"
        val body = "bench.tap".toByteArray()
        Sluice.open(dir, config).use { sluice ->
            sluice.setNetwork(Network.OFFLINE)
            // Warm the JIT and the library, as an app would be after start.
            repeat(20_000) { sluice.record(body, mapOf("screen" to "warm", "action" to "up")) }
            val per = n / threads
            val lat = LongArray(per * threads)
            val workers = (0 until threads).map { t ->
                Thread {
                    for (i in 0 until per) {
                        val k = t * per + i
                        val headers = mapOf("screen" to screens[k % 4], "action" to actions[k % 10])
                        val t0 = System.nanoTime()
                        sluice.record(body, headers)
                        lat[k] = System.nanoTime() - t0
                    }
                }
            }
            workers.forEach { it.start() }
            workers.forEach { it.join() }
            lat.sort()
            println(
                "{\"sdk\":\"sluice-jvm\",\"threads\":$threads,\"n\":${lat.size}," +
                    "\"p50_ns\":${lat[lat.size / 2]},\"p99_ns\":${lat[lat.size * 99 / 100]}}",
            )
        }
    }
}
