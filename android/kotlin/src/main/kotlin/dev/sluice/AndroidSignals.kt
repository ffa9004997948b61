package dev.sluice

import android.app.Activity
import android.app.Application
import android.content.BroadcastReceiver
import android.content.Context
import android.content.Intent
import android.content.IntentFilter
import android.net.ConnectivityManager
import android.net.NetworkCapabilities
import android.os.BatteryManager
import android.os.Bundle
import android.os.PowerManager
import java.io.Closeable

/**
 * What [Sluice.start] wires: the platform's signals passed to the core as they
 * are (the core decides what they mean), and a background job scheduled when
 * the app leaves the foreground with events pending. Framework APIs only, so
 * the SDK needs no AndroidX.
 */
internal class AndroidSignals(private val context: Context, private val sluice: Sluice) : Closeable {
    private val connectivity = context.getSystemService(ConnectivityManager::class.java)
    private val power = context.getSystemService(PowerManager::class.java)

    /** Started activities; touched on the main thread only. */
    private var started = 0

    private val network = object : ConnectivityManager.NetworkCallback() {
        // Before API 26 onCapabilitiesChanged need not follow onAvailable: ask then too.
        override fun onAvailable(network: android.net.Network) {
            connectivity?.getNetworkCapabilities(network)?.let { report(it) }
        }

        override fun onCapabilitiesChanged(network: android.net.Network, capabilities: NetworkCapabilities) =
            report(capabilities)

        override fun onLost(network: android.net.Network) = sluice.setNetworkState(false, false, false)
    }

    private val lifecycle = object : Application.ActivityLifecycleCallbacks {
        override fun onActivityStarted(activity: Activity) {
            if (started++ == 0) sluice.setForeground(true)
        }

        override fun onActivityStopped(activity: Activity) {
            if (started > 0 && --started == 0) {
                // A configuration change stops and starts the activity again: that
                // is not going to background, but flushing for it costs little.
                sluice.setForeground(false)
                AndroidJob.schedule(context, sluice.backgroundJob())
            }
        }

        override fun onActivityCreated(activity: Activity, savedInstanceState: Bundle?) {}
        override fun onActivityResumed(activity: Activity) {}
        override fun onActivityPaused(activity: Activity) {}
        override fun onActivitySaveInstanceState(activity: Activity, outState: Bundle) {}
        override fun onActivityDestroyed(activity: Activity) {}
    }

    private val battery = object : BroadcastReceiver() {
        override fun onReceive(context: Context, intent: Intent) = reportPower(intent)
    }

    fun register() {
        val now = connectivity?.activeNetwork?.let { connectivity.getNetworkCapabilities(it) }
        if (now == null) sluice.setNetworkState(false, false, false) else report(now)
        connectivity?.registerDefaultNetworkCallback(network)
        (context as? Application)?.registerActivityLifecycleCallbacks(lifecycle)
        val filter = IntentFilter(Intent.ACTION_BATTERY_CHANGED).apply {
            addAction(PowerManager.ACTION_POWER_SAVE_MODE_CHANGED)
        }
        // Both are system broadcasts: no export flag is needed. The sticky battery intent comes back at once.
        reportPower(context.registerReceiver(battery, filter))
    }

    override fun close() {
        runCatching { connectivity?.unregisterNetworkCallback(network) }
        (context as? Application)?.unregisterActivityLifecycleCallbacks(lifecycle)
        runCatching { context.unregisterReceiver(battery) }
    }

    private fun report(capabilities: NetworkCapabilities) = sluice.setNetworkState(
        available = capabilities.hasCapability(NetworkCapabilities.NET_CAPABILITY_INTERNET),
        validated = capabilities.hasCapability(NetworkCapabilities.NET_CAPABILITY_VALIDATED),
        metered = !capabilities.hasCapability(NetworkCapabilities.NET_CAPABILITY_NOT_METERED),
    )

    /** [intent] is the battery's (sticky) intent, or the power-save broadcast, which carries no battery data. */
    private fun reportPower(intent: Intent?) {
        val state = if (intent?.action == Intent.ACTION_BATTERY_CHANGED) {
            intent
        } else {
            context.registerReceiver(null, IntentFilter(Intent.ACTION_BATTERY_CHANGED))
        }
        val level = state?.getIntExtra(BatteryManager.EXTRA_LEVEL, -1) ?: -1
        val scale = state?.getIntExtra(BatteryManager.EXTRA_SCALE, -1) ?: -1
        val plugged = state?.getIntExtra(BatteryManager.EXTRA_PLUGGED, 0) ?: 0
        val percent = if (level >= 0 && scale > 0) level * 100 / scale else -1
        sluice.setBattery(plugged != 0, percent, power?.isPowerSaveMode ?: false)
    }
}
