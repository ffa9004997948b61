package dev.sluice

/** The JNI functions of libsluice_android; [Sluice] is the API. */
internal object Native {
    init {
        System.loadLibrary("sluice_android")
    }

    @JvmStatic external fun open(dir: String, config: String): Long

    @JvmStatic external fun record(
        handle: Long,
        body: ByteArray,
        keys: Array<String>,
        values: Array<String>,
        priority: Int,
        sync: Boolean,
    )

    @JvmStatic external fun flush(handle: Long, timeoutMillis: Long): Boolean

    @JvmStatic external fun setNetwork(handle: Long, network: Int)

    @JvmStatic external fun setPower(handle: Long, charging: Boolean, lowBattery: Boolean)

    @JvmStatic external fun setForeground(handle: Long, foreground: Boolean)

    @JvmStatic external fun stats(handle: Long): String

    @JvmStatic external fun close(handle: Long)
}
