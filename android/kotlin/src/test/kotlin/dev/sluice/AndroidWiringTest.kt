package dev.sluice

import android.app.Activity
import android.app.Application
import android.app.job.JobInfo
import android.app.job.JobScheduler
import android.content.Context
import android.content.Intent
import android.net.ConnectivityManager
import android.net.NetworkCapabilities
import android.os.BatteryManager
import android.os.Looper
import android.os.PowerManager
import org.junit.After
import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertNotNull
import org.junit.Assert.assertNull
import org.junit.Assert.assertTrue
import org.junit.Before
import org.junit.Test
import org.junit.runner.RunWith
import org.robolectric.Robolectric
import org.robolectric.RobolectricTestRunner
import org.robolectric.RuntimeEnvironment
import org.robolectric.Shadows.shadowOf
import org.robolectric.annotation.Config
import org.robolectric.annotation.ConscryptMode
import org.robolectric.shadows.ShadowNetwork
import java.io.File
import java.util.Collections
import java.util.zip.GZIPInputStream

/**
 * [Sluice.start]'s platform wiring under the real Android 14 framework classes
 * (Robolectric), with the host build of the JNI library: the framework's own
 * ConnectivityManager, activity lifecycle, battery broadcasts, PowerManager and
 * JobScheduler drive the core's gate.
 */
@RunWith(RobolectricTestRunner::class)
@Config(sdk = [34])
@ConscryptMode(ConscryptMode.Mode.OFF)
class AndroidWiringTest {
    private lateinit var app: Application

    /** The app's uploader: keeps the NDJSON lines it was given, answers 200. */
    private val lines: MutableList<String> = Collections.synchronizedList(mutableListOf())
    private val uploader = Uploader { request ->
        val gzip = request.headers.any { it.first.equals("Content-Encoding", true) && it.second == "gzip" }
        val body = if (gzip) GZIPInputStream(request.body.inputStream()).readBytes() else request.body
        String(body, Charsets.UTF_8).lines().filter { it.isNotBlank() && !it.contains("\"sluice.kind\"") }.forEach { lines.add(it) }
        UploadResponse.Answered(200)
    }

    private fun config(extra: String = "", linger: String = "0ms") = """
        [mobile]
        commit_interval = "10ms"
        $extra
        [sinks.up]
        type = "http"
        url = "https://collector.example/v1"
        format = "ndjson"
        batch = { linger = "$linger", max_events = 100 }
        retry = { initial = "50ms", max = "200ms" }
    """.trimIndent()

    @Before
    fun setUp() {
        app = RuntimeEnvironment.getApplication()
    }

    @After
    fun tearDown() {
        Sluice.current?.close()
        File(app.noBackupFilesDir, "sluice").deleteRecursively()
    }

    private fun connectivity() = app.getSystemService(ConnectivityManager::class.java)

    /** The platform tells every registered default-network callback about [capabilities] (null: lost). */
    private fun network(capabilities: NetworkCapabilities?) {
        val network = ShadowNetwork.newInstance(100)
        val callbacks = shadowOf(connectivity()).networkCallbacks
        assertTrue("Sluice registered no network callback", callbacks.isNotEmpty())
        for (callback in callbacks) {
            if (capabilities == null) callback.onLost(network) else callback.onCapabilitiesChanged(network, capabilities)
        }
    }

    private fun capabilities(vararg capabilities: Int): NetworkCapabilities {
        val builder = NetworkCapabilities.Builder()
        capabilities.forEach { builder.addCapability(it) }
        return builder.build()
    }

    private val unmetered = intArrayOf(
        NetworkCapabilities.NET_CAPABILITY_INTERNET,
        NetworkCapabilities.NET_CAPABILITY_VALIDATED,
        NetworkCapabilities.NET_CAPABILITY_NOT_METERED,
    )
    private val metered = intArrayOf(NetworkCapabilities.NET_CAPABILITY_INTERNET, NetworkCapabilities.NET_CAPABILITY_VALIDATED)

    private fun idleMain() = shadowOf(Looper.getMainLooper()).idle()

    private fun waitFor(what: String, millis: Long = 10_000, condition: () -> Boolean) {
        val deadline = System.currentTimeMillis() + millis
        while (!condition()) {
            if (System.currentTimeMillis() > deadline) throw AssertionError("timed out waiting for $what")
            Thread.sleep(10)
        }
    }

    @Test
    fun startStoresUnderNoBackupFilesDirAndFollowsTheDefaultNetwork() {
        val sluice = Sluice.start(app, config(), uploader)
        assertTrue(File(app.noBackupFilesDir, "sluice").isDirectory)
        assertTrue("a second start returns the running instance", Sluice.start(app, config(), uploader) === sluice)

        network(null)
        assertEquals(Network.OFFLINE, sluice.stats().network)
        for (i in 0 until 20) assertTrue(sluice.record("offline $i"))
        assertFalse("nothing may leave offline", sluice.flush(300))
        assertEquals(0, lines.size)

        // Connected but not validated (a captive portal) is still offline.
        network(capabilities(NetworkCapabilities.NET_CAPABILITY_INTERNET, NetworkCapabilities.NET_CAPABILITY_NOT_METERED))
        assertEquals(PauseReason.OFFLINE, sluice.stats().uploadsPaused)

        network(capabilities(*unmetered))
        assertEquals(Network.UNMETERED, sluice.stats().network)
        assertTrue("unmetered drains: ${sluice.stats()}", sluice.flush(10_000))
        assertEquals(20, lines.size)
    }

    @Test
    fun aMeteredNetworkHonoursThePolicyAndItsBudget() {
        val sluice = Sluice.start(app, config("upload_on = \"unmetered\""), uploader)
        network(capabilities(*metered))
        assertEquals(Network.METERED, sluice.stats().network)
        assertTrue(sluice.recordSync("held on metered"))
        assertFalse(sluice.flush(300))
        assertEquals(PauseReason.METERED_NETWORK, sluice.stats().uploadsPaused)
        assertEquals(0, lines.size)
        network(capabilities(*unmetered))
        assertTrue(sluice.flush(10_000))
        assertEquals(1, lines.size)

        // A budget of 1 KiB a day on metered: the first batch goes, then uploads pause.
        sluice.setConfig(config("metered_daily_budget = \"1KiB\""))
        network(capabilities(*metered))
        for (i in 0 until 100) sluice.recordSync("x".repeat(100) + " $i")
        sluice.flush(2_000)
        waitFor("the budget to be spent") { sluice.stats().uploadsPaused == PauseReason.METERED_BUDGET_SPENT }
        val stats = sluice.stats()
        assertTrue("some went on metered: $stats", stats.meteredBytesToday in 1..4096)
        assertTrue("the rest waits: $stats", stats.pendingEvents > 0)
    }

    @Test
    fun goingToBackgroundFlushesAndSchedulesTheJobThatDeliversTheRest() {
        // A linger of an hour: only going to background (or the job) makes this batch leave.
        val sluice = Sluice.start(app, config(linger = "1h"), uploader)
        network(capabilities(*unmetered))
        val activity = Robolectric.buildActivity(Activity::class.java).setup()
        for (i in 0 until 5) assertTrue(sluice.recordSync("foreground $i"))
        Thread.sleep(200)
        assertEquals("nothing leaves during the linger", 0, lines.size)
        activity.pause().stop()
        waitFor("the background flush") { lines.size == 5 }

        // Offline when the app goes to background: the job is scheduled and delivers later.
        activity.start().resume()
        network(null)
        for (i in 0 until 7) assertTrue(sluice.recordSync("background $i"))
        activity.pause().stop()
        val scheduler = app.getSystemService(JobScheduler::class.java)
        val job = scheduler.allPendingJobs.singleOrNull { it.id == AndroidJob.JOB_ID }
        assertNotNull("no job scheduled with events pending in the background", job)
        assertEquals(JobInfo.NETWORK_TYPE_ANY, job!!.networkType)
        assertEquals(SluiceJobService::class.java.name, job.service.className)

        network(capabilities(*unmetered))
        val service = Robolectric.setupService(SluiceJobService::class.java)
        assertTrue("the job runs asynchronously", service.onStartJob(null))
        waitFor("the job to finish") { shadowOf(service).isJobFinished }
        assertFalse("nothing left: no reschedule", shadowOf(service).isRescheduleNeeded)
        assertEquals(12, lines.size)
        assertEquals(0L, sluice.stats().pendingEvents)
        activity.destroy()
    }

    @Test
    fun theJobNeedsAnUnmeteredNetworkWhenThePolicySaysSo() {
        val sluice = Sluice.start(app, config("upload_on = \"unmetered\""), uploader)
        network(capabilities(*metered))
        val activity = Robolectric.buildActivity(Activity::class.java).setup()
        assertTrue(sluice.recordSync("waits for wifi"))
        activity.pause().stop()
        val job = app.getSystemService(JobScheduler::class.java).allPendingJobs.single { it.id == AndroidJob.JOB_ID }
        assertEquals(JobInfo.NETWORK_TYPE_UNMETERED, job.networkType)
        activity.destroy()
    }

    @Test
    fun powerSaveAndALowBatteryPauseUploadsUnlessCharging() {
        val sluice = Sluice.start(app, config(), uploader)
        network(capabilities(*unmetered))
        assertNull(sluice.stats().uploadsPaused)

        shadowOf(app.getSystemService(PowerManager::class.java)).setIsPowerSaveMode(true)
        app.sendBroadcast(Intent(PowerManager.ACTION_POWER_SAVE_MODE_CHANGED))
        idleMain()
        assertEquals(PauseReason.LOW_BATTERY, sluice.stats().uploadsPaused)
        assertTrue(sluice.recordSync("held while saving power"))
        assertFalse(sluice.flush(300))

        // Plugged in: charging lifts the pause.
        app.sendStickyBroadcast(battery(level = 10, plugged = BatteryManager.BATTERY_PLUGGED_AC))
        idleMain()
        assertNull(sluice.stats().uploadsPaused)
        assertTrue(sluice.flush(10_000))

        // Unplugged at 10 % with power saving off: low battery.
        shadowOf(app.getSystemService(PowerManager::class.java)).setIsPowerSaveMode(false)
        app.sendStickyBroadcast(battery(level = 10, plugged = 0))
        idleMain()
        assertEquals(PauseReason.LOW_BATTERY, sluice.stats().uploadsPaused)
        app.sendStickyBroadcast(battery(level = 80, plugged = 0))
        idleMain()
        assertNull(sluice.stats().uploadsPaused)
    }

    private fun battery(level: Int, plugged: Int) = Intent(Intent.ACTION_BATTERY_CHANGED)
        .putExtra(BatteryManager.EXTRA_LEVEL, level)
        .putExtra(BatteryManager.EXTRA_SCALE, 100)
        .putExtra(BatteryManager.EXTRA_PLUGGED, plugged)

    @Test
    fun turningUploadsOffPurgesRefusesAndLastsAcrossARestart() {
        var sluice = Sluice.start(app, config(), uploader)
        network(null)
        for (i in 0 until 10) assertTrue(sluice.recordSync("before consent was withdrawn $i"))
        assertTrue(sluice.setUploadEnabled(false))
        var stats = sluice.stats()
        assertEquals(0L, stats.pendingEvents)
        assertEquals(10L, stats.purged)
        assertFalse(stats.uploadEnabled)
        assertEquals(PauseReason.UPLOAD_DISABLED, stats.uploadsPaused)
        assertFalse("record takes nothing while uploads are off", sluice.record("not recorded"))
        assertEquals(1L, sluice.stats().dropped)
        sluice.close()

        sluice = Sluice.start(app, config(), uploader)
        assertFalse("the choice lasts across a restart", sluice.stats().uploadEnabled)
        assertTrue(sluice.setUploadEnabled(true))
        network(capabilities(*unmetered))
        assertTrue(sluice.recordSync("after consent"))
        assertTrue(sluice.flush(10_000))
        assertEquals(listOf("after consent"), lines.map { Regex("\"body\":\"([^\"]*)\"").find(it)!!.groupValues[1] })

        assertTrue(sluice.setUploadEnabled(false))
        assertTrue(sluice.setUploadEnabled(true))
        network(null)
        for (i in 0 until 3) sluice.recordSync("purged $i")
        assertEquals(3L, sluice.purge())
        assertEquals(0L, sluice.stats().pendingEvents)
    }

    @Test
    fun closeTwiceIsFineAndACloseInstanceTakesNothing() {
        val sluice = Sluice.start(app, config(), uploader)
        sluice.close()
        sluice.close()
        sluice.use { }
        assertNull(Sluice.current)
        assertFalse(sluice.record("after close"))
        assertFalse(sluice.flush(10))
        assertEquals(0L, sluice.purge())
        assertEquals(Stats.CLOSED, sluice.stats())
        assertTrue("the callbacks were unregistered", shadowOf(connectivity()).networkCallbacks.isEmpty())
        // Started again after close: a new instance on the same store.
        Sluice.start(app, config(), uploader).use { again -> assertTrue(again.record("again")) }
    }
}
