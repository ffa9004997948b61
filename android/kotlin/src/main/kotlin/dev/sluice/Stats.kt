package dev.sluice

import java.nio.ByteBuffer

/** Why uploads are paused, as the core decides it. */
enum class PauseReason {
    /** The user turned uploads off ([Sluice.setUploadEnabled]). */
    UPLOAD_DISABLED,

    /** No usable network (none, or not validated). */
    OFFLINE,

    /** The battery is low (or power saving is on) and not charging. */
    LOW_BATTERY,

    /** The network is metered and the policy wants unmetered. */
    METERED_NETWORK,

    /** Today's metered budget is spent. */
    METERED_BUDGET_SPENT,
}

/**
 * What [Sluice.stats] reports. Counts are since the instance opened.
 * [dropped] counts events [Sluice.record] did not take (invalid, the buffer full
 * past its bound, uploads turned off); [purged] what [Sluice.purge] or turning
 * uploads off deleted.
 */
data class Stats(
    val pendingEvents: Long,
    val pendingBytes: Long,
    val bufferedEvents: Long,
    val recorded: Long,
    val delivered: Long,
    val evicted: Long,
    val expired: Long,
    val refused: Long,
    val quarantined: Long,
    val dropped: Long,
    val purged: Long,
    val meteredBytesToday: Long,
    /** When the last batch was acknowledged (ms since the epoch), null before the first. */
    val lastUploadMillis: Long?,
    val network: Network,
    val uploadEnabled: Boolean,
    /** Null while uploads may go. */
    val uploadsPaused: PauseReason?,
    val lastError: String?,
) {
    internal companion object {
        /** What a closed instance reports. */
        val CLOSED = Stats(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, null, Network.OFFLINE, false, null, "closed")

        /** Decodes the core's `Stats::pack`: 16 big-endian longs, then the last error. */
        fun unpack(packed: ByteArray): Stats {
            val b = ByteBuffer.wrap(packed)
            val n = LongArray(16) { b.long }
            val errorLength = b.int
            val lastError = if (errorLength == -1) null else ByteArray(errorLength).also { b.get(it) }.toString(Charsets.UTF_8)
            return Stats(
                pendingEvents = n[0],
                pendingBytes = n[1],
                bufferedEvents = n[2],
                recorded = n[3],
                delivered = n[4],
                evicted = n[5],
                expired = n[6],
                refused = n[7],
                quarantined = n[8],
                dropped = n[9],
                purged = n[10],
                meteredBytesToday = n[11],
                lastUploadMillis = n[12].takeIf { it != -1L },
                network = Network.entries.first { it.code.toLong() == n[13] },
                uploadEnabled = n[14] == 1L,
                uploadsPaused = if (n[15] == 0L) null else PauseReason.entries[(n[15] - 1).toInt()],
                lastError = lastError,
            )
        }
    }
}
