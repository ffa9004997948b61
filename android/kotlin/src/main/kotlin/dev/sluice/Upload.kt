package dev.sluice

import java.io.IOException
import java.io.InputStream
import java.net.HttpURLConnection
import java.net.URL
import java.nio.ByteBuffer
import java.util.concurrent.ScheduledThreadPoolExecutor
import java.util.concurrent.TimeUnit

/**
 * One request Sluice wants sent: POST [body] to [url] with [headers], all as given
 * (`Content-Type`, `Content-Encoding`, `X-Sluice-Batch`, `User-Agent`, auth, the sink's extras).
 * Give up after [timeoutMillis] and report [UploadResponse.Failed].
 */
class UploadRequest internal constructor(
    val url: String,
    val headers: List<Pair<String, String>>,
    val body: ByteArray,
    val timeoutMillis: Int,
    internal val id: Long,
) {
    /** A request of your own, to test an [Uploader] (OkHttp, Cronet) without Sluice sending it. */
    constructor(url: String, headers: List<Pair<String, String>>, body: ByteArray, timeoutMillis: Int = 10_000) :
        this(url, headers, body, timeoutMillis, 0)

    internal companion object {
        /** Decodes `Native.uploadTake`'s packing: id, timeout, url, headers, then the body. */
        fun unpack(packed: ByteArray): UploadRequest {
            val buffer = ByteBuffer.wrap(packed)
            fun text(): String {
                val bytes = ByteArray(buffer.int)
                buffer.get(bytes)
                return String(bytes, Charsets.UTF_8)
            }
            val id = buffer.long
            val timeout = buffer.int
            val url = text()
            val headers = List(buffer.int) { text() to text() }
            val body = ByteArray(buffer.remaining())
            buffer.get(body)
            return UploadRequest(url, headers, body, if (timeout < 0) Int.MAX_VALUE else timeout, id)
        }
    }
}

/** What became of an [UploadRequest]. */
sealed class UploadResponse {
    /** The upstream answered [status]; Sluice classifies it (2xx delivered, 429/5xx retried, 413 split, other 4xx quarantined). */
    class Answered(val status: Int, val retryAfter: String? = null, val body: ByteArray = ByteArray(0)) : UploadResponse()

    /** No answer (DNS, connection, TLS, timeout): retried with backoff. */
    class Failed(val reason: String) : UploadResponse()
}

/**
 * Sends Sluice's requests with the app's HTTP stack (OkHttp, Cronet, [HttpURLConnection]).
 * Called on Sluice's uploader thread, one request at a time; an exception counts as [UploadResponse.Failed].
 */
fun interface Uploader {
    fun upload(request: UploadRequest): UploadResponse
}

/**
 * The default [Uploader]: `java.net.HttpURLConnection`, with the platform's proxy and trust store.
 * Redirects are not followed (a POST turned into a GET would look delivered); the whole
 * request is bounded by [UploadRequest.timeoutMillis], not only each read.
 */
class HttpURLConnectionUploader(private val connectTimeoutMillis: Int = 10_000) : Uploader {
    override fun upload(request: UploadRequest): UploadResponse {
        val connection = try {
            URL(request.url).openConnection() as HttpURLConnection
        } catch (e: IOException) {
            return UploadResponse.Failed("${request.url}: $e")
        }
        // readTimeout bounds each read only: this bounds the whole exchange.
        val deadline = WATCHDOG.schedule({ connection.disconnect() }, request.timeoutMillis.toLong(), TimeUnit.MILLISECONDS)
        return try {
            connection.requestMethod = "POST"
            connection.doOutput = true
            connection.useCaches = false
            connection.instanceFollowRedirects = false
            connection.connectTimeout = minOf(connectTimeoutMillis, request.timeoutMillis)
            connection.readTimeout = request.timeoutMillis
            for ((key, value) in request.headers) connection.setRequestProperty(key, value)
            connection.setFixedLengthStreamingMode(request.body.size)
            connection.outputStream.use { it.write(request.body) }
            val status = connection.responseCode
            val stream: InputStream? = if (status >= 400) connection.errorStream else connection.inputStream
            val body = stream?.use { readUpTo(it, REPLY_KEPT) } ?: ByteArray(0)
            UploadResponse.Answered(status, connection.getHeaderField("Retry-After"), body)
        } catch (e: IOException) {
            UploadResponse.Failed("${request.url}: $e")
        } finally {
            deadline.cancel(false)
            connection.disconnect()
        }
    }

    private companion object {
        /** Sluice keeps only this much of a reply (quarantine reasons, OTLP partial success). */
        const val REPLY_KEPT = 16 * 1024

        /** One daemon thread for every instance's request deadlines; idle while none is pending. */
        val WATCHDOG: ScheduledThreadPoolExecutor = ScheduledThreadPoolExecutor(1) { task ->
            Thread(task, "sluice-upload-deadline").apply { isDaemon = true }
        }.apply { removeOnCancelPolicy = true }

        fun readUpTo(stream: InputStream, limit: Int): ByteArray {
            val out = java.io.ByteArrayOutputStream()
            val chunk = ByteArray(4096)
            while (out.size() < limit) {
                val n = stream.read(chunk, 0, minOf(chunk.size, limit - out.size()))
                if (n < 0) break
                out.write(chunk, 0, n)
            }
            return out.toByteArray()
        }
    }
}

/** The uploader loop of one instance: a daemon thread that sleeps in native code while nothing is pending. */
internal class UploadLoop(private val handle: Long, private val uploader: Uploader) : Thread("sluice-uploader") {
    init {
        isDaemon = true
    }

    override fun run() {
        while (true) {
            try {
                if (!sendOne()) return
            } catch (e: SluiceException) {
                if (e.code == SluiceException.CLOSED) return
                // A fault inside Sluice (caught at the boundary): the loop must not die of it.
                pause()
            } catch (e: Throwable) {
                // An OutOfMemoryError unpacking a large request, say: a dead loop would stall
                // uploads for good; the request it held is sent again after its timeout.
                pause()
            }
        }
    }

    /** Takes one request, sends it and reports the answer; false once the instance closed. */
    private fun sendOne(): Boolean {
        val packed = Native.uploadTake(handle, -1) ?: return true
        if (packed.isEmpty()) return false
        val request = UploadRequest.unpack(packed)
        val response = try {
            uploader.upload(request)
        } catch (e: Throwable) {
            // Errors too (a missing class of the app's HTTP library): a dead loop would stall uploads for good.
            UploadResponse.Failed("the uploader threw $e")
        }
        // The core decides what an answer means (a status no server gives is no answer).
        try {
            when (response) {
                is UploadResponse.Answered ->
                    Native.uploadFinish(handle, request.id, response.status, response.retryAfter, response.body, null)
                is UploadResponse.Failed -> Native.uploadFinish(handle, request.id, 0, null, null, response.reason)
            }
        } catch (e: SluiceException) {
            if (e.code == SluiceException.CLOSED) return false
        }
        return true
    }

    private fun pause() {
        try {
            sleep(1_000)
        } catch (_: InterruptedException) {
            // Not a way to stop the loop: closing the instance is.
        }
    }
}
