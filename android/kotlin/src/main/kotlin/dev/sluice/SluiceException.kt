package dev.sluice

/**
 * A failed Sluice call: only [Sluice.open], [Sluice.start] and [Sluice.setConfig]
 * throw it (an invalid configuration, a store that cannot be opened); nothing
 * else in the API throws at the app. [code] is the C ABI's status (`-1` invalid
 * argument, `-2` closed, `-3` configuration, `-4` storage, `-5` quota or disk
 * full, `-6` internal error caught, `-7` other; `3` uploads turned off); the
 * message says what was wrong. The codes are the core's (`sluice::mobile::status`),
 * checked by a test.
 */
class SluiceException(val code: Int, message: String) : RuntimeException(message) {
    companion object {
        const val DISABLED = 3
        const val ARGUMENT = -1
        const val CLOSED = -2
        const val CONFIG = -3
        const val STORAGE = -4
        const val FULL = -5
        const val PANIC = -6
        const val OTHER = -7
    }
}
