import Foundation
import Network
import SluiceFFI
#if canImport(UIKit)
import UIKit
#endif
#if canImport(BackgroundTasks)
import BackgroundTasks
#endif

extension Sluice {
    /// Opens the app's queue under Application Support/sluice, excluded from
    /// backup (a restored backup would send old events twice), and wires it to the
    /// platform: the default network (`NWPathMonitor`), the app's lifecycle, the
    /// battery and Low Power Mode, a background task around the flush on going to
    /// background, and (with `SluiceBackgroundDelivery.register`) a `BGTaskScheduler`
    /// task for what is still pending. Call it once, early (`application(_:didFinishLaunchingWithOptions:)`).
    public static func start(config: String, uploader: SluiceUploader? = nil) throws -> Sluice {
        let support = try FileManager.default.url(
            for: .applicationSupportDirectory, in: .userDomainMask, appropriateFor: nil, create: true)
        var directory = support.appendingPathComponent("sluice", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var values = URLResourceValues()
        values.isExcludedFromBackup = true
        try directory.setResourceValues(values)
        let sluice = try Sluice(directory: directory, config: config, uploader: uploader)
        let platform = SluicePlatform(sluice)
        sluice.platform = platform
        platform.start()
        return sluice
    }
}

/// The platform signals of `Sluice.start`, passed to the core as they are: the
/// core decides what they mean. Holds the `Sluice` weakly.
final class SluicePlatform: @unchecked Sendable {
    private weak var sluice: Sluice?
    private let monitor = NWPathMonitor()
    private let queue = DispatchQueue(label: "dev.sluice.platform")
    private var observers: [NSObjectProtocol] = []

    init(_ sluice: Sluice) {
        self.sluice = sluice
    }

    func start() {
        monitor.pathUpdateHandler = { [weak self] path in
            self?.sluice?.setNetworkState(
                available: path.status != .unsatisfied,
                validated: path.status == .satisfied,
                metered: path.isExpensive || path.isConstrained)
        }
        monitor.start(queue: queue)
        let center = NotificationCenter.default
        observers.append(center.addObserver(
            forName: Notification.Name.NSProcessInfoPowerStateDidChange, object: nil, queue: nil
        ) { [weak self] _ in self?.reportPower() })
        #if canImport(UIKit) && !os(watchOS)
        DispatchQueue.main.async { [weak self] in
            UIDevice.current.isBatteryMonitoringEnabled = true
            self?.reportPower()
        }
        observers.append(center.addObserver(
            forName: UIDevice.batteryStateDidChangeNotification, object: nil, queue: nil
        ) { [weak self] _ in self?.reportPower() })
        observers.append(center.addObserver(
            forName: UIDevice.batteryLevelDidChangeNotification, object: nil, queue: nil
        ) { [weak self] _ in self?.reportPower() })
        observers.append(center.addObserver(
            forName: UIApplication.didEnterBackgroundNotification, object: nil, queue: .main
        ) { [weak self] _ in self?.wentToBackground() })
        observers.append(center.addObserver(
            forName: UIApplication.willEnterForegroundNotification, object: nil, queue: .main
        ) { [weak self] _ in self?.sluice?.setForeground(true) })
        #else
        reportPower()
        #endif
    }

    func stop() {
        monitor.cancel()
        observers.forEach { NotificationCenter.default.removeObserver($0) }
        observers.removeAll()
    }

    private func reportPower() {
        let powerSave = ProcessInfo.processInfo.isLowPowerModeEnabled
        #if canImport(UIKit) && !os(watchOS)
        let device = UIDevice.current
        let charging = device.batteryState == .charging || device.batteryState == .full
        let level = device.batteryLevel < 0 ? -1 : Int32(device.batteryLevel * 100)
        sluice?.setBattery(charging: charging, levelPercent: level, powerSave: powerSave)
        #else
        sluice?.setBattery(charging: true, levelPercent: -1, powerSave: powerSave)
        #endif
    }

    #if canImport(UIKit) && !os(watchOS)
    /// Going to background: the core flushes within `flush_on_background`; a
    /// background task keeps the app running that long, then a `BGTask` is asked for.
    private func wentToBackground() {
        guard let sluice = sluice else { return }
        let application = UIApplication.shared
        var task = UIBackgroundTaskIdentifier.invalid
        task = application.beginBackgroundTask(withName: "sluice-flush") {
            application.endBackgroundTask(task)
            task = .invalid
        }
        sluice.setForeground(false)
        DispatchQueue.global(qos: .utility).async {
            sluice.flush(timeout: 5)
            SluiceBackgroundDelivery.schedule(sluice.backgroundJob())
            DispatchQueue.main.async {
                if task != .invalid {
                    application.endBackgroundTask(task)
                }
            }
        }
    }
    #endif
}

/// Delivery after the app left the foreground, by `BGTaskScheduler`. Add the
/// identifier to `BGTaskSchedulerPermittedIdentifiers` and `processing` to
/// `UIBackgroundModes` in Info.plist, and call `register()` before the app
/// finishes launching. `BGProcessingTaskRequest` cannot ask for an unmetered
/// network: the task may wake on a metered one, where the core's policy holds uploads.
public enum SluiceBackgroundDelivery {
    /// The task identifier to list in Info.plist.
    public static let identifier = "dev.sluice.delivery"

    #if canImport(BackgroundTasks) && os(iOS)
    /// Registers the delivery task; `sluice` gives the running instance when the task runs.
    public static func register(_ sluice: @escaping @Sendable () -> Sluice?) {
        _ = BGTaskScheduler.shared.register(forTaskWithIdentifier: identifier, using: nil) { task in
            guard let instance = sluice() else {
                task.setTaskCompleted(success: true)
                return
            }
            let work = DispatchWorkItem {
                let again = instance.runBackgroundTask()
                if again {
                    SluiceBackgroundDelivery.schedule(instance.backgroundJob())
                }
                task.setTaskCompleted(success: !again)
            }
            task.expirationHandler = {
                // A running work item cannot be stopped: say so, and ask again for later.
                work.cancel()
                SluiceBackgroundDelivery.schedule(instance.backgroundJob())
                task.setTaskCompleted(success: false)
            }
            DispatchQueue.global(qos: .utility).async(execute: work)
        }
    }
    #endif

    /// Asks for the task when the core wants one (`SLUICE_JOB_*`: 1 any network, 2 unmetered).
    static func schedule(_ need: Int32) {
        #if canImport(BackgroundTasks) && os(iOS)
        guard need == SLUICE_JOB_ANY_NETWORK || need == SLUICE_JOB_UNMETERED else { return }
        let request = BGProcessingTaskRequest(identifier: identifier)
        request.requiresNetworkConnectivity = true
        request.requiresExternalPower = false
        try? BGTaskScheduler.shared.submit(request)
        #endif
    }
}
