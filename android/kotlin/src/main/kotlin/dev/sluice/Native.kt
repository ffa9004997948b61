package dev.sluice

/** The JNI functions of libsluice_android; [Sluice] is the API. */
internal object Native {
    init {
        System.loadLibrary("sluice_android")
    }

    @JvmStatic external fun open(dir: String, config: String): Long

    /** [headers] is [packHeaders]' encoding: one array crosses JNI instead of one string object per key and value. */
    @JvmStatic external fun record(handle: Long, body: ByteArray, headers: ByteArray, priority: Int, sync: Boolean)

    @JvmStatic external fun flush(handle: Long, timeoutMillis: Long): Boolean

    @JvmStatic external fun setNetwork(handle: Long, network: Int)

    @JvmStatic external fun setPower(handle: Long, charging: Boolean, lowBattery: Boolean)

    @JvmStatic external fun setForeground(handle: Long, foreground: Boolean)

    @JvmStatic external fun setConfig(handle: Long, config: String)

    @JvmStatic external fun stats(handle: Long): String

    @JvmStatic external fun close(handle: Long)

    /** The next request packed (see [UploadRequest.unpack]); null when [waitMillis] passed (negative: no limit); empty once closed. */
    @JvmStatic external fun uploadTake(handle: Long, waitMillis: Long): ByteArray?

    /** [httpStatus] 100..599, or 0 with [error] for no answer. False when the SDK no longer waited for it. */
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
