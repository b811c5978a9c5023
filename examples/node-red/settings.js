// Headless Node-RED settings for the Switchboard example: Node-RED serves
// only the flow's HTTP endpoints (no editor, no admin API) on 127.0.0.1,
// runs flows.json from this folder and logs warnings to the console.
//
// Run: node node_modules/node-red/red.js --settings settings.js
//
// Environment:
//   NODE_RED_PORT               port of the flow's HTTP endpoints (1880)
//   NODE_RED_USER_DIR           Node-RED's working directory (./.node-red)
//   SWITCHBOARD_API             Switchboard's server API (http://127.0.0.1:8080/api)
//   SWITCHBOARD_API_KEY         its API key (change-me-api-key)
//   SWITCHBOARD_WEBHOOK_SECRET  the webhook sink's `secret` (change-me-webhook-secret)
//   SWITCHBOARD_WEBHOOK_TOLERANCE_S  max age of a delivery's timestamp, s (300; 0: off)
//   NODE_RED_EDITOR=1           also serve the editor at http://127.0.0.1:PORT/admin
//                               (no login: keep it on loopback)

const path = require('node:path');

const env = (name, fallback) => {
    const v = process.env[name];
    return v === undefined || v === '' ? fallback : v;
};

const editor = env('NODE_RED_EDITOR', '') === '1';

module.exports = {
    uiPort: Number(env('NODE_RED_PORT', '1880')),
    uiHost: '127.0.0.1',

    // flows.json is read from this folder; everything Node-RED writes
    // (.config.*.json, context, backups) goes to the user directory.
    flowFile: path.join(__dirname, 'flows.json'),
    flowFilePretty: true,
    userDir: path.resolve(env('NODE_RED_USER_DIR', path.join(__dirname, '.node-red'))),

    // The flow holds no credentials, so no secret is needed to encrypt them
    // (and Node-RED does not generate one into the user directory).
    credentialSecret: false,

    // Headless: no editor and no admin API unless NODE_RED_EDITOR=1.
    httpAdminRoot: editor ? '/admin' : false,
    httpNodeRoot: '/',
    disableEditor: !editor,

    // The function node loads Node's built-in `crypto` through its Setup tab
    // (`libs`); nothing is ever installed from npm at run time.
    functionExternalModules: true,
    externalModules: {
        autoInstall: false,
        palette: { allowInstall: false, allowUpload: false },
        modules: { allowInstall: false },
    },

    // What the flow needs to know about Switchboard: global.get('switchboard')
    // in a function node.
    functionGlobalContext: {
        switchboard: {
            api: env('SWITCHBOARD_API', 'http://127.0.0.1:8080/api').replace(/\/+$/, ''),
            apiKey: env('SWITCHBOARD_API_KEY', 'change-me-api-key'),
            webhookSecret: env('SWITCHBOARD_WEBHOOK_SECRET', 'change-me-webhook-secret'),
            // Deliveries whose X-Switchboard-Timestamp is further than this
            // from the clock are refused (replays); 0 turns the check off.
            toleranceSeconds: Number(env('SWITCHBOARD_WEBHOOK_TOLERANCE_S', '300')),
        },
    },

    editorTheme: { projects: { enabled: false }, tours: false },
    telemetry: { enabled: false, updateNotification: false },
    diagnostics: { enabled: false, ui: false },
    runtimeState: { enabled: false, ui: false },

    logging: {
        console: { level: 'warn', metrics: false, audit: false },
    },
};
