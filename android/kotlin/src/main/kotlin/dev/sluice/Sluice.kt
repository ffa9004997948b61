package dev.sluice

import java.io.Closeable
import java.io.File

/** Priority of an event: [LOW] is evicted first when the disk quota is full; [HIGH] never is. */
enum class Priority(internal val code: Int) { LOW(0), NORMAL(1), HIGH(2) }

/** The connectivity the app reports (from `ConnectivityManager`). */
enum class Network(internal val code: Int) { OFFLINE(0), METERED(1), UNMETERED(2) }

/**
 * A durable event queue that uploads when the phone's policy allows.
 *
 * Record from any thread: [record] returns once the event is buffered (committed
 * within `commit_interval`, default 50 ms) and never waits on the network;
 * [recordSync] returns after the commit. Every failure throws [SluiceException];
 * nothing crashes the app. Close with [close] (or `use { }`); calls after that throw.
 *
 * Uploads go out through the app's HTTP stack: [uploader] (by default
 * [HttpURLConnectionUploader]) runs on a daemon thread that sleeps while nothing is pending.
 */
class Sluice private constructor(private val handle: Long, uploader: Uploader) : Closeable {
    companion object {
        /**
         * Opens (or recovers) the store in [dir] with a TOML [config] (`[mobile]` policy, `[sinks.*]`);
         * [uploader] sends the requests (OkHttp or Cronet in an app that has them).
         */
        @JvmStatic
        @JvmOverloads
        fun open(dir: File, config: String, uploader: Uploader = HttpURLConnectionUploader()): Sluice =
            Sluice(Native.open(dir.path, config), uploader)
    }

    init {
        // Ends by itself once the instance closes; close() waits for an upload in
        // flight only within its own bound (at most 5 s), never for this thread.
        UploadLoop(handle, uploader).start()
    }

    /** Records [body] with [headers]; returns once it is buffered. */
    @JvmOverloads
    fun record(body: ByteArray, headers: Map<String, String> = emptyMap(), priority: Priority = Priority.NORMAL) =
        call(body, headers, priority, sync = false)

    /** Records UTF-8 [text]. */
    @JvmOverloads
    fun record(text: String, headers: Map<String, String> = emptyMap(), priority: Priority = Priority.NORMAL) =
        call(text.toByteArray(Charsets.UTF_8), headers, priority, sync = false)

    /** Records [body] and returns once it is committed to disk. */
    @JvmOverloads
    fun recordSync(body: ByteArray, headers: Map<String, String> = emptyMap(), priority: Priority = Priority.NORMAL) =
        call(body, headers, priority, sync = true)

    /** Records UTF-8 [text] and returns once it is committed to disk. */
    @JvmOverloads
    fun recordSync(text: String, headers: Map<String, String> = emptyMap(), priority: Priority = Priority.NORMAL) =
        call(text.toByteArray(Charsets.UTF_8), headers, priority, sync = true)

    /** Commits and uploads now if the policy allows; true when everything was acknowledged within [timeoutMillis]. */
    @JvmOverloads
    fun flush(timeoutMillis: Long = 10_000): Boolean = Native.flush(handle, timeoutMillis)

    /** Reports connectivity; [Network.OFFLINE] stops uploads and retries. */
    fun setNetwork(network: Network) = Native.setNetwork(handle, network.code)

    /** Reports power; uploads may pause on low battery unless charging. */
    fun setPower(charging: Boolean, lowBattery: Boolean) = Native.setPower(handle, charging, lowBattery)

    /** Reports the lifecycle; going to background starts an upload within the configured bound. */
    fun setForeground(foreground: Boolean) = Native.setForeground(handle, foreground)

    /**
     * Moves to a new configuration (the same TOML as [open]): a changed sink is
     * rebuilt after its upload in flight finishes, a changed `[mobile]` policy
     * applies at once, and everything recorded stays. Throws [SluiceException]
     * with [SluiceException.CONFIG] for invalid text or a change that needs a
     * reopen (the store's limits, the record buffer); nothing changed then.
     * With an upload out at the uploader it waits for the answer (at most 5 s):
     * call it off the main thread.
     */
    fun setConfig(config: String) = Native.setConfig(handle, config)

    /** Counters as a JSON object: pending_events, delivered, evicted, refused, last_error, last_upload_ms, ... */
    fun stats(): String = Native.stats(handle)

    /** Commits, stops uploading and releases the store. A second close throws. */
    override fun close() = Native.close(handle)

    private fun call(body: ByteArray, headers: Map<String, String>, priority: Priority, sync: Boolean) =
        Native.record(handle, body, packHeaders(headers), priority.code, sync)
}
