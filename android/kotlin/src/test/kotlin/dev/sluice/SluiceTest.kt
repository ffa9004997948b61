package dev.sluice

import com.sun.net.httpserver.HttpServer
import org.junit.After
import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertTrue
import org.junit.Assert.fail
import org.junit.Before
import org.junit.Test
import java.io.File
import java.net.InetSocketAddress
import java.nio.file.Files
import java.util.Collections
import java.util.zip.GZIPInputStream

/** The Kotlin API on the host JVM against a real loopback HTTP receiver. */
class SluiceTest {
    private lateinit var server: HttpServer
    private val lines: MutableList<String> = Collections.synchronizedList(mutableListOf())
    private lateinit var dir: File

    @Before
    fun start() {
        server = HttpServer.create(InetSocketAddress("127.0.0.1", 0), 0)
        server.createContext("/") { exchange ->
            val raw = exchange.requestBody.readBytes()
            val gzip = exchange.requestHeaders.getFirst("Content-Encoding") == "gzip"
            val body = if (gzip) GZIPInputStream(raw.inputStream()).readBytes() else raw
            String(body, Charsets.UTF_8).lines().filter { it.isNotBlank() }.forEach { lines.add(it) }
            exchange.sendResponseHeaders(200, -1)
            exchange.close()
        }
        server.start()
        dir = Files.createTempDirectory("sluice-kotlin").toFile()
    }

    @After
    fun stop() {
        server.stop(0)
        dir.deleteRecursively()
    }

    private fun config(extra: String = "") = """
        [mobile]
        commit_interval = "20ms"
        $extra
        [sinks.up]
        type = "http"
        url = "http://127.0.0.1:${server.address.port}/"
        format = "ndjson"
        batch = { linger = "0ms" }
    """.trimIndent()

    private fun events(): List<String> = synchronized(lines) { lines.filter { !it.contains("\"sluice.kind\"") } }

    private inline fun expectError(code: Int, messagePart: String, block: () -> Unit) {
        try {
            block()
            fail("expected SluiceException($code)")
        } catch (e: SluiceException) {
            assertEquals("code of: ${e.message}", code, e.code)
            assertTrue("message '${e.message}' should mention '$messagePart'", e.message!!.contains(messagePart))
        }
    }

    @Test
    fun recordThenFlushDeliversEveryEventWithItsHeaders() {
        Sluice.open(dir, config()).use { sluice ->
            for (i in 0 until 100) {
                sluice.record("event $i ünïcødé", mapOf("n" to i.toString(), "kind" to "test"))
            }
            sluice.record(byteArrayOf(0, 1, 2, -1), mapOf("n" to "binary"), Priority.HIGH)
            assertTrue("flush did not deliver: ${sluice.stats()}", sluice.flush(10_000))
            val got = events()
            assertEquals(101, got.size)
            for (i in 0 until 100) {
                val line = got.single { it.contains("\"n\":\"$i\"") }
                assertTrue(line, line.contains("\"body\":\"event $i ünïcødé\""))
                assertTrue(line, line.contains("\"kind\":\"test\""))
            }
            // A body that is not UTF-8 travels base64-encoded, byte-exact.
            assertTrue(got.any { it.contains("\"body_base64\":\"AAEC/w==\"") })
            assertEquals(101L, sluice.stats().delivered)
            assertTrue(sluice.statsJson(), sluice.statsJson().contains("\"delivered\":101"))
        }
    }

    @Test
    fun eventsSurviveCloseAndReopenAndAClosedInstanceTakesNothing() {
        val sluice = Sluice.open(dir, config())
        sluice.setNetwork(Network.OFFLINE)
        sluice.recordSync("kept across close", mapOf("n" to "1"))
        assertFalse("flush cannot deliver offline", sluice.flush(200))
        assertEquals(0, events().size)
        sluice.close()
        assertFalse(sluice.record("after close"))
        assertFalse(sluice.flush(10))
        assertEquals(Stats.CLOSED, sluice.stats())
        sluice.close() // a second close does nothing

        Sluice.open(dir, config()).use { again ->
            assertTrue(again.flush(10_000))
            assertEquals(1, events().size)
            assertTrue(events()[0].contains("kept across close"))
        }
    }

    @Test
    fun setConfigChangesThePolicyAndRefusesWhatNeedsAReopen() {
        Sluice.open(dir, config()).use { sluice ->
            sluice.setNetwork(Network.METERED)
            sluice.setConfig(config("upload_on = \"unmetered\""))
            sluice.record("held on metered", mapOf("n" to "1"))
            assertFalse("the new policy holds uploads on metered", sluice.flush(300))
            assertEquals(PauseReason.METERED_NETWORK, sluice.stats().uploadsPaused)
            expectError(SluiceException.CONFIG, "<config>:") { sluice.setConfig(config("upload_on = 3")) }
            expectError(SluiceException.CONFIG, "store's limits") {
                sluice.setConfig(config("upload_on = \"unmetered\"\nmax_bytes = \"1MiB\""))
            }
            sluice.setNetwork(Network.UNMETERED)
            assertTrue(sluice.flush(10_000))
            assertEquals(1, events().size)
        }
    }

    @Test
    fun eightThreadsRecordAtOnce() {
        Sluice.open(dir, config()).use { sluice ->
            val threads = (0 until 8).map { t ->
                Thread {
                    for (i in 0 until 1000) sluice.record("t$t-$i", mapOf("thread" to "t$t"))
                }
            }
            threads.forEach { it.start() }
            threads.forEach { it.join() }
            assertTrue(sluice.flush(20_000))
            val got = events()
            assertEquals(8000, got.size)
            for (t in 0 until 8) {
                assertEquals(1000, got.count { it.contains("\"thread\":\"t$t\"") })
            }
        }
    }

    @Test
    fun invalidConfigThrowsAndInvalidEventsAreCountedNotThrown() {
        expectError(SluiceException.CONFIG, "<config>:2") {
            Sluice.open(dir, "[mobile]\nupload_on = \"wifi\"\n[sinks.up]\ntype = \"null\"\n")
        }
        expectError(SluiceException.CONFIG, "sinks") { Sluice.open(dir, "[mobile]\n") }
        Sluice.open(dir, config()).use { sluice ->
            assertFalse(sluice.record("x", mapOf("" to "v")))
            assertTrue(sluice.stats().lastError!!.contains("header key is empty"))
            assertFalse(sluice.record(ByteArray(2 shl 20)))
            assertTrue(sluice.stats().lastError!!.contains("at most"))
            assertFalse(sluice.recordSync("x", (0 until 300).associate { "k$it" to "v" }))
            assertTrue(sluice.stats().lastError!!.contains("at most 256"))
            assertEquals(3L, sluice.stats().dropped)
            expectError(SluiceException.STORAGE, "another sluice") { Sluice.open(dir, config()) }
            // The instance is still usable after the errors.
            sluice.recordSync("still fine")
            assertTrue(sluice.flush(10_000))
        }
    }

    @Test
    fun anAppUploaderSendsAndItsFailuresAreRetriedUnderTheSameBatchId() {
        val batchIds = Collections.synchronizedList(mutableListOf<String>())
        val calls = java.util.concurrent.atomic.AtomicInteger()
        val real = HttpURLConnectionUploader()
        val uploader = Uploader { request ->
            batchIds.add(request.headers.single { it.first == "X-Sluice-Batch" }.second)
            when (calls.incrementAndGet()) {
                1 -> throw IllegalStateException("a bug in the app's uploader")
                // An Error, not an Exception: what a missing class of the app's HTTP library throws.
                2 -> throw NoClassDefFoundError("okhttp3/OkHttpClient")
                3 -> UploadResponse.Failed("no route to host")
                4 -> UploadResponse.Answered(503, "0", "busy".toByteArray())
                else -> real.upload(request)
            }
        }
        val retrying = config() + "\nretry = { initial = \"20ms\", max = \"50ms\" }"
        Sluice.open(dir, retrying, uploader).use { sluice ->
            sluice.setNetwork(Network.OFFLINE)
            for (i in 0 until 10) sluice.recordSync("event $i", mapOf("n" to i.toString()))
            sluice.setNetwork(Network.UNMETERED)
            assertTrue("flush did not deliver: ${sluice.stats()}", sluice.flush(10_000))
        }
        assertEquals((0 until 10).map { "event $it" }, events().map { Regex("\"body\":\"([^\"]*)\"").find(it)!!.groupValues[1] })
        assertEquals("four failed attempts, then one that delivered: $batchIds", 5, calls.get())
        assertEquals("one batch id across the retries: $batchIds", 1, batchIds.toSet().size)
    }

    @Test
    fun closeKeepsTheAnswerToAnUploadInFlight() {
        val real = HttpURLConnectionUploader()
        val taken = java.util.concurrent.CountDownLatch(1)
        val slow = Uploader { request ->
            taken.countDown()
            Thread.sleep(300)
            real.upload(request)
        }
        val sluice = Sluice.open(dir, config(), slow)
        sluice.recordSync("in flight at close")
        assertTrue("the uploader took no request within 10 s", taken.await(10, java.util.concurrent.TimeUnit.SECONDS))
        sluice.close()
        Sluice.open(dir, config()).use { reopened ->
            assertEquals("the answered batch is still pending: ${reopened.stats()}", 0L, reopened.stats().pendingEvents)
        }
        assertEquals(1, events().count { it.contains("in flight at close") })
        // Every instance is closed now: no uploader loop may be left running.
        val deadline = System.currentTimeMillis() + 2_000
        fun loops() = Thread.getAllStackTraces().keys.count { it.name == "sluice-uploader" && it.isAlive }
        while (loops() > 0 && System.currentTimeMillis() < deadline) Thread.sleep(10)
        assertEquals("uploader loops still running after close", 0, loops())
    }

    @Test
    fun appTestsReadWhatWouldBeUploadedAndBuildTheirOwnRequests() {
        val uploads = TestUploader()
        Sluice.openForTesting(config(), uploads).use { sluice ->
            assertTrue(sluice.record("tapped", mapOf("screen" to "home")))
            assertTrue(sluice.flush(10_000))
        }
        val line = uploads.lines().single()
        assertTrue(line, line.contains("\"body\":\"tapped\"") && line.contains("\"screen\":\"home\""))
        assertEquals("nothing reached the network", 0, events().size)
        // An app's own uploader, tested with a request of the app's making.
        val request = UploadRequest(
            "http://127.0.0.1:${server.address.port}/",
            listOf("Content-Type" to "application/x-ndjson"),
            "{\"body\":\"made by the test\"}\n".toByteArray(),
        )
        val answer = HttpURLConnectionUploader().upload(request)
        assertTrue("answer: $answer", answer is UploadResponse.Answered && answer.status == 200)
        assertEquals(1, events().size)
    }
}
