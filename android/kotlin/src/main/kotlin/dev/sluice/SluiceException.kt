package dev.sluice

/**
 * A failed Sluice call. [code] is the C ABI's status (`-1` invalid argument,
 * `-2` closed, `-3` configuration, `-4` storage, `-5` quota or disk full, `-6` internal
 * error caught, `-7` other); the message says what was wrong.
 */
class SluiceException(val code: Int, message: String) : RuntimeException(message) {
    companion object {
        const val ARGUMENT = -1
        const val CLOSED = -2
        const val CONFIG = -3
        const val STORAGE = -4
        const val FULL = -5
        const val PANIC = -6
        const val OTHER = -7
    }
}
