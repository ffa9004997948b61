package dev.sluice

import android.app.job.JobInfo
import android.app.job.JobParameters
import android.app.job.JobScheduler
import android.app.job.JobService
import android.content.ComponentName
import android.content.Context
import java.io.File

/**
 * The background delivery job: scheduled (by [AndroidSignals]) when the app
 * leaves the foreground with events pending, run by `JobScheduler` once a network
 * the policy allows is there, even after the process was frozen or killed.
 */
internal object AndroidJob {
    /** The job's id in the app's `JobScheduler` namespace (apps with their own jobs: keep clear of it). */
    const val JOB_ID = 0x51_1C_E0

    /** The config [Sluice.start] used, so a job in a fresh process can open the store if the app did not. */
    private const val CONFIG_FILE = "sluice-job.toml"

    @Volatile
    private var configFile: File? = null

    fun remember(context: Context, config: String) {
        val file = File(context.noBackupFilesDir, CONFIG_FILE)
        configFile = file
        rememberConfig(config)
    }

    fun rememberConfig(config: String) {
        val file = configFile ?: return
        runCatching {
            val temp = File(file.path + ".tmp")
            temp.writeText(config)
            temp.renameTo(file)
        }
    }

    /** Schedules the job for [need] (the core's answer: 0 none, 1 any network, 2 unmetered). */
    fun schedule(context: Context, need: Int) {
        if (need == 0) return
        val scheduler = context.getSystemService(JobScheduler::class.java) ?: return
        // Scheduling again under the same id would stop a job that is delivering now.
        if (scheduler.getPendingJob(JOB_ID) != null) return
        val network = if (need == 2) JobInfo.NETWORK_TYPE_UNMETERED else JobInfo.NETWORK_TYPE_ANY
        val job = JobInfo.Builder(JOB_ID, ComponentName(context, SluiceJobService::class.java))
            .setRequiredNetworkType(network)
            .build()
        runCatching { scheduler.schedule(job) }
    }

    /** The config a job in a fresh process opens the store with, if [Sluice.start] ran in this app before. */
    fun savedConfig(context: Context): String? =
        runCatching { File(context.noBackupFilesDir, CONFIG_FILE).readText() }.getOrNull()
}

/**
 * Delivers pending events in the background. Declare it in the app's manifest:
 *
 * ```xml
 * <service android:name="dev.sluice.SluiceJobService"
 *          android:permission="android.permission.BIND_JOB_SERVICE"
 *          android:exported="false" />
 * ```
 *
 * It uses the instance [Sluice.start] opened in this process (the app's
 * uploader); if the app did not start one (the job woke a process whose
 * `Application.onCreate` does not start Sluice), it opens the store with the
 * last configuration [Sluice.start] used and the default uploader, delivers, and closes it.
 */
class SluiceJobService : JobService() {
    override fun onStartJob(params: JobParameters?): Boolean {
        Thread({
            val reschedule = try {
                deliver()
            } catch (e: Throwable) {
                true
            }
            jobFinished(params, reschedule)
        }, "sluice-job").start()
        return true
    }

    /** Stopped by the system (network lost, time up): run again later. */
    override fun onStopJob(params: JobParameters?): Boolean = true

    /** Flushes within the job's budget; whether the job should run again. */
    private fun deliver(): Boolean {
        Sluice.current?.let { return it.runBackgroundJob() }
        val config = AndroidJob.savedConfig(applicationContext) ?: return false
        return Sluice.open(File(applicationContext.noBackupFilesDir, "sluice"), config).use { it.runBackgroundJob() }
    }
}
