package dev.sluice

import android.content.Context
import java.io.Closeable
import java.io.File

/** Priority of an event: [LOW] is evicted first when the disk quota is full; [HIGH] never is. */
enum class Priority(internal val code: Int) { LOW(0), NORMAL(1), HIGH(2) }

/** The connectivity the app reports (from `ConnectivityManager`). */
enum class Network(internal val code: Int) { OFFLINE(0), METERED(1), UNMETERED(2) }

/**
 * A durable event queue that uploads when the phone's policy allows.
 *
 * On Android, [start] it once in `Application.onCreate`: it follows the network,
 * the app's lifecycle and the battery by itself and delivers in the background
 * through `JobScheduler`. [open] is the same queue without the wiring, for apps
 * (and JVM programs) that report those themselves.
 *
 * Record from any thread: [record] returns once the event is buffered (committed
 * within `commit_interval`, default 50 ms), never waits on the network and never
 * throws; an event it could not take returns false: invalid, the buffer full
 * for 500 ms, or uploads turned off by the user are counted in [Stats.dropped];
 * after [close] there is nothing left to count. Only [open], [start] and [setConfig] throw
 * [SluiceException], for a configuration or a store that cannot work.
 *
 * Uploads go out through the app's HTTP stack: [uploader] (by default
 * [HttpURLConnectionUploader]) runs on a daemon thread that sleeps while nothing is pending.
 */
class Sluice private constructor(private val handle: Long, uploader: Uploader) : Closeable {
    companion object {
        /**
         * Opens (or recovers) the store in [dir] with a TOML [config] (`[mobile]` policy, `[sinks.*]`);
         * [uploader] sends the requests (OkHttp or Cronet in an app that has them).
         * The network counts as unmetered until [setNetwork] or [setNetworkState] says otherwise.
         */
        @JvmStatic
        @JvmOverloads
        fun open(dir: File, config: String, uploader: Uploader = HttpURLConnectionUploader()): Sluice =
            Sluice(Native.open(dir.path, config), uploader)

        /**
         * Opens the app's queue under `noBackupFilesDir/sluice` (so Auto Backup never
         * restores events to be sent twice) and wires it to the platform: the default
         * network, the started activities, the battery and power saving, and a
         * `JobScheduler` job that delivers what is pending once the app is in the
         * background (see [SluiceJobService] for the manifest entry). Call it once,
         * in `Application.onCreate`; a second call returns the running instance.
         */
        @JvmStatic
        @JvmOverloads
        fun start(context: Context, config: String, uploader: Uploader = HttpURLConnectionUploader()): Sluice =
            synchronized(this) {
                started?.let { return it }
                val app = context.applicationContext ?: context
                val dir = File(app.noBackupFilesDir, "sluice")
                val sluice = open(dir, config, uploader)
                AndroidJob.remember(app, config)
                sluice.signals = AndroidSignals(app, sluice).also { it.register() }
                started = sluice
                sluice
            }

        /** The instance [start] opened in this process, if it is open. */
        @JvmStatic
        val current: Sluice?
            get() = synchronized(this) { started }

        private var started: Sluice? = null

        private fun forget(sluice: Sluice) = synchronized(this) {
            if (started === sluice) started = null
        }
    }

    @Volatile
    private var closed = false

    /** The platform wiring of [start]; null for [open]. */
    private var signals: AndroidSignals? = null

    init {
        // Ends by itself once the instance closes; close() waits for an upload in
        // flight only within its own bound (at most 5 s), never for this thread.
        UploadLoop(handle, uploader).start()
    }

    /** Records [body] with [headers]; true once it is buffered, false if it was not taken (see [Stats.dropped]). */
    @JvmOverloads
    fun record(body: ByteArray, headers: Map<String, String> = emptyMap(), priority: Priority = Priority.NORMAL): Boolean =
        call(body, headers, priority, sync = false)

    /** Records UTF-8 [text]. */
    @JvmOverloads
    fun record(text: String, headers: Map<String, String> = emptyMap(), priority: Priority = Priority.NORMAL): Boolean =
        call(text.toByteArray(Charsets.UTF_8), headers, priority, sync = false)

    /** Records [body] and returns once it is committed to disk: true if it was. */
    @JvmOverloads
    fun recordSync(body: ByteArray, headers: Map<String, String> = emptyMap(), priority: Priority = Priority.NORMAL): Boolean =
        call(body, headers, priority, sync = true)

    /** Records UTF-8 [text] and returns once it is committed to disk: true if it was. */
    @JvmOverloads
    fun recordSync(text: String, headers: Map<String, String> = emptyMap(), priority: Priority = Priority.NORMAL): Boolean =
        call(text.toByteArray(Charsets.UTF_8), headers, priority, sync = true)

    /**
     * Commits and uploads now if the policy allows; true when everything was
     * acknowledged within [timeoutMillis], false otherwise (pending, paused, closed).
     * Blocks: call it off the main thread.
     */
    @JvmOverloads
    fun flush(timeoutMillis: Long = 10_000): Boolean = quietly(false) { Native.flush(handle, timeoutMillis) }

    /** Reports connectivity; [Network.OFFLINE] stops uploads and retries. [start] does this by itself. */
    fun setNetwork(network: Network) = quietly(Unit) { Native.setNetwork(handle, network.code) }

    /** Reports the default network as `ConnectivityManager` describes it (not validated counts as offline). */
    fun setNetworkState(available: Boolean, validated: Boolean, metered: Boolean) =
        quietly(Unit) { Native.setNetworkState(handle, available, validated, metered) }

    /** Reports power; uploads may pause on low battery unless charging. */
    fun setPower(charging: Boolean, lowBattery: Boolean) = quietly(Unit) { Native.setPower(handle, charging, lowBattery) }

    /** Reports the battery as the platform does ([levelPercent] -1 when unknown); [start] does this by itself. */
    fun setBattery(charging: Boolean, levelPercent: Int, powerSave: Boolean) =
        quietly(Unit) { Native.setBattery(handle, charging, levelPercent, powerSave) }

    /** Reports the lifecycle; going to background starts an upload within the configured bound. */
    fun setForeground(foreground: Boolean) = quietly(Unit) { Native.setForeground(handle, foreground) }

    /**
     * The user's consent (Glean's name). `false`: no upload starts from now on,
     * everything stored is deleted, [record] takes nothing, and the choice is
     * kept across restarts. `true`: starts afresh. False when it could not be
     * persisted (uploads follow it for this run anyway) or the instance is closed.
     */
    fun setUploadEnabled(enabled: Boolean): Boolean = quietly(false) {
        Native.setUploadEnabled(handle, enabled)
        true
    }

    /** Deletes every stored event not being uploaded right now; how many went (counted in [Stats.purged]). */
    fun purge(): Long = quietly(0L) { Native.purge(handle) }

    /**
     * Moves to a new configuration (the same TOML as [open]): a changed sink is
     * rebuilt after its upload in flight finishes, a changed `[mobile]` policy
     * applies at once, and everything recorded stays. Throws [SluiceException]
     * with [SluiceException.CONFIG] for invalid text or a change that needs a
     * reopen (the store's limits, the record buffer); nothing changed then.
     * With an upload out at the uploader it waits for the answer (at most 5 s):
     * call it off the main thread.
     */
    fun setConfig(config: String) {
        Native.setConfig(handle, config)
        if (signals != null) AndroidJob.rememberConfig(config)
    }

    /** The counters now ([Stats.CLOSED]'s zeros once closed). */
    fun stats(): Stats = quietly(Stats.CLOSED) { Stats.unpack(Native.statsPacked(handle)) }

    /** The counters as a JSON object, for logs. */
    fun statsJson(): String = quietly("{\"closed\":true}") { Native.stats(handle) }

    /** Commits, stops uploading and the platform wiring, and releases the store. A second close does nothing. */
    override fun close() {
        if (closed) return
        closed = true
        signals?.close()
        forget(this)
        quietly(Unit) { Native.close(handle) }
    }

    /** Whether a background delivery job is wanted now: 0 none, 1 any network, 2 unmetered. */
    internal fun backgroundJob(): Int = quietly(0) { Native.backgroundJob(handle) }

    /** What the background job runs: a flush within the core's budget; whether to run again. */
    internal fun runBackgroundJob(): Boolean = quietly(false) { Native.runBackgroundJob(handle) }

    private fun call(body: ByteArray, headers: Map<String, String>, priority: Priority, sync: Boolean): Boolean =
        quietly(false) { Native.record(handle, body, packHeaders(headers), priority.code, sync) }
}

/** Runs a native call that must not throw at the app: a failure (closed, say) is [fallback]. */
private inline fun <T> quietly(fallback: T, call: () -> T): T =
    try {
        call()
    } catch (e: SluiceException) {
        fallback
    }
