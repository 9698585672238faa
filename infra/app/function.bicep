// The function app on a Flex Consumption plan. Runtime, scale and the deployment package are set
// in functionAppConfig: on Flex, FUNCTIONS_WORKER_RUNTIME, FUNCTIONS_EXTENSION_VERSION,
// WEBSITE_RUN_FROM_PACKAGE and the WEBSITE_CONTENT* settings are not used and must not be set.
@description('Name of the function app.')
param name string

@description('Name of the Flex Consumption plan.')
param planName string

@description('Region of the plan and the app.')
param location string

@description('Tags for the plan and the app; the app also gets azd-service-name.')
param tags object

@description('Resource id of the user-assigned identity the app runs as.')
param identityId string

@description('Client id of that identity: the identity-based connections and App Insights name it.')
param identityClientId string

@description('Name of the storage account behind AzureWebJobsStorage and JobsStorage.')
param storageAccountName string

@description('URL of the blob container that holds the deployment package.')
param deploymentContainerUrl string

@description('Name of the App Insights component the app sends telemetry to.')
param applicationInsightsName string

@description('Most instances the app scales out to (Flex allows 40 to 1000).')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 100

@description('Memory of each instance in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@secure()
@description('Signs task.finished webhooks (JOBS_WEBHOOK_SECRET).')
param webhookSecret string

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

// Every app setting. tests/infra checks these names against what the code and host.json read:
// jobs.core.settings.APP_SETTINGS, the identity triples for AzureWebJobsStorage and
// jobs.core.settings.STORAGE_CONNECTION, and the platform settings below.
var appSettings = {
  // Host storage (keys, timer status and leases): identity-based, no connection string.
  AzureWebJobsStorage__accountName: storageAccountName
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  // The app's connection (connection="JobsStorage" on the queue triggers, and jobs.storage.connection).
  JobsStorage__accountName: storageAccountName
  JobsStorage__credential: 'managedidentity'
  JobsStorage__clientId: identityClientId
  // Telemetry with Entra ID: the component has local auth disabled.
  APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsights.properties.ConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
  // Sync functions run on the worker's thread pool: enough threads for host.json's queue batch
  // (batchSize 16 + newBatchThreshold 16 in flight per instance). 32 is the documented maximum.
  PYTHON_THREADPOOL_THREAD_COUNT: '32'
  // The app's own settings (jobs/core/settings.py); the values are its defaults.
  JOBS_SWEEP_SCHEDULE: '0 * * * * *'
  // Recurring schedules are checked this often (their fire times are this precise), and
  // finished tasks are kept this many days before the daily purge deletes them.
  JOBS_SCHEDULER_SCHEDULE: '0 * * * * *'
  JOBS_RETENTION_DAYS: '30'
  JOBS_TEST_KINDS: 'false'
  JOBS_MAX_ITEMS: '100000'
  JOBS_MAX_BODY_BYTES: '33554432'
  JOBS_MAX_ITEM_BYTES: '262144'
  JOBS_DISPATCH_WINDOW: '128'
  // Where kinds may read blobs (never the service's, the host's or the deployment's containers),
  // the largest input they may read, and how long an output's download link works.
  JOBS_INPUT_CONTAINERS: 'job-inputs'
  JOBS_MAX_INPUT_BYTES: '67108864'
  JOBS_OUTPUT_LINK_MINUTES: '60'
  // Signs webhooks; callbacks may go only to public https hosts unless listed here.
  JOBS_WEBHOOK_SECRET: webhookSecret
  JOBS_CALLBACK_ALLOWED_HOSTS: ''
  // A worker writes its concurrent moves of one task's jobs in one transaction.
  JOBS_GROUP_COMMIT: 'true'
  // Each worker counts the moves it writes in a row of its own (jobs/lifecycle/counters.py).
  JOBS_COUNTER_LAYOUT: 'writers'
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  // checkov:skip=CKV_AZURE_225: Zone redundancy on Flex Consumption exists only in some regions and this template must deploy to any Flex region; set zoneRedundant: true where the region offers it.
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    tier: 'FlexConsumption'
    name: 'FC1'
  }
  properties: {
    reserved: true
  }
}

resource app 'Microsoft.Web/sites@2024-04-01' = {
  // checkov:skip=CKV_AZURE_222: The HTTP API (submit a batch, poll, download) is the service's front door and is meant to be reachable; callers need a function key.
  // checkov:skip=CKV_AZURE_17: Client certificates would demand mutual TLS from every API caller; callers authenticate with function keys.
  // checkov:skip=CKV_AZURE_78: Flex Consumption has no FTP endpoint and does not use siteConfig.ftpsState; basic-auth publishing (ftp and scm) is turned off by publishingCredentials below.
  // checkov:skip=CKV_AZURE_212: numberOfWorkers does not apply to Flex Consumption, which scales instances itself; to keep instances warm, set scaleAndConcurrency.alwaysReady.
  // checkov:skip=CKV_AZURE_213: App Service health check is not available on Flex Consumption; the platform replaces unhealthy instances.
  name: name
  location: location
  tags: union(tags, {
    'azd-service-name': 'api'
  })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    siteConfig: {
      minTlsVersion: '1.2'
      http20Enabled: true
      appSettings: [for setting in items(appSettings): {
        name: setting.key
        value: setting.value
      }]
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: deploymentContainerUrl
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'python'
        version: '3.11'
      }
    }
  }
}

// Deployments (azd, Core Tools) authenticate with Entra ID; no publishing user or password.
resource publishingCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = [for policy in ['ftp', 'scm']: {
  parent: app
  name: policy
  properties: {
    allow: false
  }
}]

output id string = app.id
output name string = app.name
output url string = 'https://${app.properties.defaultHostName}'
