package dev.sluice

/** The JNI functions of libsluice_android; [Sluice] is the API. */
internal object Native {
    init {
        System.loadLibrary("sluice_android")
    }

    @JvmStatic external fun open(dir: String, config: String): Long

    /** [headers] is [packHeaders]' encoding: one array crosses JNI instead of one string object per key and value. */
    /** Whether the event was taken; never throws (what was not taken is counted in stats). */
    @JvmStatic external fun record(handle: Long, body: ByteArray, headers: ByteArray, priority: Int, sync: Boolean): Boolean

    @JvmStatic external fun flush(handle: Long, timeoutMillis: Long): Boolean

    @JvmStatic external fun setNetwork(handle: Long, network: Int)

    @JvmStatic external fun setPower(handle: Long, charging: Boolean, lowBattery: Boolean)

    @JvmStatic external fun setForeground(handle: Long, foreground: Boolean)

    @JvmStatic external fun setConfig(handle: Long, config: String)

    @JvmStatic external fun stats(handle: Long): String

    /** The core's `Stats::pack` layout (see [Stats.unpack]). */
    @JvmStatic external fun statsPacked(handle: Long): ByteArray

    /** The default network as ConnectivityManager describes it; the core decides what it means. */
    @JvmStatic external fun setNetworkState(handle: Long, available: Boolean, validated: Boolean, metered: Boolean)

    /** [levelPercent] -1 when unknown; the core decides what counts as low. */
    @JvmStatic external fun setBattery(handle: Long, charging: Boolean, levelPercent: Int, powerSave: Boolean)

    @JvmStatic external fun setUploadEnabled(handle: Long, enabled: Boolean)

    @JvmStatic external fun purge(handle: Long): Long

    /** 0: no background job wanted; else the network it needs (1 any, 2 unmetered). */
    @JvmStatic external fun backgroundJob(handle: Long): Int

    /** Flushes within the background job's budget; whether the job should run again. */
    @JvmStatic external fun runBackgroundJob(handle: Long): Boolean

    @JvmStatic external fun close(handle: Long)

    /** The next request packed (see [UploadRequest.unpack]); null when [waitMillis] passed (negative: no limit); empty once closed. */
    @JvmStatic external fun uploadTake(handle: Long, waitMillis: Long): ByteArray?

    /** [httpStatus] 100..599, or 0 with [error] for no answer (any other status counts as none). False when the SDK no longer waited for it. */
    @JvmStatic external fun uploadFinish(
        handle: Long,
        id: Long,
        httpStatus: Int,
        retryAfter: String?,
        body: ByteArray?,
        error: String?,
    ): Boolean
}

private val NO_HEADERS = ByteArray(0)

/** Headers as (u32 big-endian length, UTF-8 bytes) for each key, then its value. */
internal fun packHeaders(headers: Map<String, String>): ByteArray {
    if (headers.isEmpty()) return NO_HEADERS
    val parts = ArrayList<ByteArray>(headers.size * 2)
    var size = 0
    for ((key, value) in headers) {
        val k = key.toByteArray(Charsets.UTF_8)
        val v = value.toByteArray(Charsets.UTF_8)
        parts.add(k)
        parts.add(v)
        size += 8 + k.size + v.size
    }
    val buffer = java.nio.ByteBuffer.allocate(size)
    for (part in parts) {
        buffer.putInt(part.size)
        buffer.put(part)
    }
    return buffer.array()
}
