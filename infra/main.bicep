// Everything `azd up` provisions for the job service: one resource group holding a Flex
// Consumption function app, its storage account, monitoring, one user-assigned identity with the
// data roles the app needs, alerts, saved queries and a workbook. Modules are under app/.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('Name of the azd environment. With the subscription and the location it seeds every resource name.')
param environmentName string

@minLength(1)
@description('Region for every resource. It must offer the Flex Consumption plan: az functionapp list-flexconsumption-locations.')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

// azd generates this once per environment and keeps it with the environment's configuration, so
// receivers' signature checks keep working across deployments.
@secure()
@metadata({ azd: { type: 'generate', config: { length: 48 } } })
@description('Signs the task.finished webhooks the app sends.')
param webhookSecret string

@description('Object id of the principal running azd (azd fills it from AZURE_PRINCIPAL_ID). It gets the same storage data roles as the app, so it can browse jobs, queues and blobs in the portal and run the app locally against this account. Empty grants nothing.')
param principalId string = ''

@description('Email address that receives the poison-queue and job-failure alerts. Empty: the alerts still fire and show in the portal, but nobody is emailed.')
param alertEmail string = ''

var abbrs = loadJsonContent('abbreviations.json')
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
}
var functionAppName = '${abbrs.webSitesFunctions}api-${resourceToken}'
var deploymentContainerName = 'app-package-${resourceToken}'

// Data roles on the storage account, for the app's identity and (optionally) the deploying user.
// Built-in role definition ids: https://learn.microsoft.com/azure/role-based-access-control/built-in-roles
var storageDataRoleIds = [
  // Storage Blob Data Contributor. Everything the identity does with blobs is read, write,
  // delete, lease (a blob write) and create containers: the host's keys, timer status and
  // singleton locks (azure-webjobs-secrets, azure-webjobs-hosts, containers it creates on first
  // use), Flex reading the deployment package, the app's payloads, inputs and outputs. It also
  // holds generateUserDelegationKey, which signs the outputs' read links. The Functions docs name
  // Blob Data Owner for host storage; what Owner adds is POSIX ACLs and ownership (a
  // hierarchical namespace, off here), blob tags and immutability overrides, none of which the
  // host or the app uses, so Owner would only widen what a leaked token can do.
  'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  // Storage Queue Data Contributor. The queue trigger reads, deletes and updates messages (a
  // failed message's visibility is reset), copies them to `<queue>-poison` and creates that queue
  // on first use; the app enqueues. Message Processor/Sender are subsets of it and add nothing,
  // and only Contributor has the message update and queue create the host needs.
  '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  // Storage Table Data Contributor. The app reads and writes task, counter and job rows.
  '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
]
// Monitoring Metrics Publisher: the only way to send telemetry to an App Insights resource whose
// local (instrumentation key) auth is disabled.
var monitoringMetricsPublisherRoleId = '3913510d-42f4-4e42-8a64-420c390055eb'

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: '${abbrs.resourcesResourceGroups}${environmentName}'
  location: location
  tags: tags
}

module identity 'app/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: '${abbrs.managedIdentityUserAssignedIdentities}api-${resourceToken}'
    location: location
    tags: tags
  }
}

module monitoring 'app/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    workspaceName: '${abbrs.operationalInsightsWorkspaces}${resourceToken}'
    applicationInsightsName: '${abbrs.insightsComponents}${resourceToken}'
    location: location
    tags: tags
  }
}

module storage 'app/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: '${abbrs.storageStorageAccounts}${resourceToken}'
    location: location
    tags: tags
    deploymentContainerName: deploymentContainerName
    logAnalyticsWorkspaceId: monitoring.outputs.workspaceId
  }
}

module appRoles 'app/rbac.bicep' = {
  name: 'app-roles'
  scope: rg
  params: {
    principalId: identity.outputs.principalId
    principalType: 'ServicePrincipal'
    storageAccountName: storage.outputs.name
    storageRoleIds: storageDataRoleIds
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    webhookSecret: webhookSecret
    applicationInsightsRoleIds: [monitoringMetricsPublisherRoleId]
  }
}

// The deploying user gets the app's storage data roles, nothing on App Insights: to look at
// tables, queues and blobs in the portal's Storage browser (shared keys are off, so the portal
// needs Entra data roles), requeue poison messages, and run the app locally against this account
// with their `az login` identity. Creating role assignments already requires Owner or User Access
// Administrator on the group, so these roles widen nobody's reach.
module deployerRoles 'app/rbac.bicep' = if (!empty(principalId)) {
  name: 'deployer-roles'
  scope: rg
  params: {
    principalId: principalId
    storageAccountName: storage.outputs.name
    storageRoleIds: storageDataRoleIds
  }
}

module function 'app/function.bicep' = {
  name: 'function'
  scope: rg
  params: {
    name: functionAppName
    planName: '${abbrs.webServerFarms}${resourceToken}'
    location: location
    tags: tags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    deploymentContainerUrl: '${storage.outputs.blobEndpoint}${deploymentContainerName}'
    applicationInsightsName: monitoring.outputs.applicationInsightsName
  }
  // Start the app once its identity can reach storage and App Insights.
  dependsOn: [
    appRoles
  ]
}

module alerts 'app/alerts.bicep' = {
  name: 'alerts'
  scope: rg
  params: {
    namePrefix: '${abbrs.insightsScheduledQueryRules}${resourceToken}'
    actionGroupName: '${abbrs.insightsActionGroups}${resourceToken}'
    location: location
    tags: tags
    workspaceId: monitoring.outputs.workspaceId
    alertEmail: alertEmail
  }
}

module workbook 'app/workbook.bicep' = {
  name: 'workbook'
  scope: rg
  params: {
    location: location
    tags: tags
    workspaceId: monitoring.outputs.workspaceId
    applicationInsightsId: monitoring.outputs.applicationInsightsId
    functionAppId: function.outputs.id
  }
}

// azd stores these in .azure/<env>/.env; the README's Deploy section uses them.
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_NAME string = function.outputs.name
output AZURE_FUNCTION_URL string = function.outputs.url
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output AZURE_LOG_ANALYTICS_WORKSPACE_NAME string = monitoring.outputs.workspaceName
