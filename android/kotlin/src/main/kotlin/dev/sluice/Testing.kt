package dev.sluice

import java.io.File
import java.nio.file.Files
import java.util.Collections
import java.util.zip.GZIPInputStream

/**
 * For the app's own tests: an [Uploader] that sends nothing, answers every
 * request with [status], and keeps what would have been uploaded.
 *
 * ```kotlin
 * val uploads = TestUploader()
 * Sluice.openForTesting(config, uploads).use { sluice ->
 *     screen.onTap(sluice)                 // the app code under test records
 *     sluice.flush()
 *     assertEquals(1, uploads.lines().size)
 * }
 * ```
 */
class TestUploader(@Volatile var status: Int = 200) : Uploader {
    private val kept: MutableList<UploadRequest> = Collections.synchronizedList(mutableListOf())

    override fun upload(request: UploadRequest): UploadResponse {
        kept.add(request)
        return UploadResponse.Answered(status)
    }

    /** Every request so far, in order (retries included). */
    fun requests(): List<UploadRequest> = synchronized(kept) { kept.toList() }

    /** Each request's body, un-gzipped when it was sent gzipped. */
    fun payloads(): List<ByteArray> = requests().map { request ->
        val gzip = request.headers.any { it.first.equals("Content-Encoding", true) && it.second == "gzip" }
        if (gzip) GZIPInputStream(request.body.inputStream()).readBytes() else request.body
    }

    /** The payloads' lines (one event each with `format = "ndjson"`), Sluice's own heartbeat lines left out. */
    fun lines(): List<String> = payloads().flatMap { String(it, Charsets.UTF_8).lines() }
        .filter { it.isNotBlank() && !it.contains("\"sluice.kind\"") }

    /** Forgets what was kept. */
    fun clear() = kept.clear()
}

/**
 * A [Sluice] for the app's tests: a fresh store in a temporary directory
 * (deleted when the JVM exits), uploading through [uploader] (a [TestUploader]
 * keeps what would be sent), on a network taken as unmetered.
 */
fun Sluice.Companion.openForTesting(config: String, uploader: Uploader = TestUploader()): Sluice {
    val dir: File = Files.createTempDirectory("sluice-test").toFile()
    dir.deleteOnExit()
    return Sluice.open(dir, config, uploader)
}
