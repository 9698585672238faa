// Role assignments for one principal: data roles on the storage account and, optionally, roles on
// the App Insights component. One looped resource per scope; the role ids come from main.bicep.
@description('Object id of the principal that gets the roles.')
param principalId string

@description('ServicePrincipal for a managed identity created in this deployment (skips the wait for directory replication); empty lets Azure look the principal up.')
@allowed([
  ''
  'ServicePrincipal'
])
param principalType string = ''

@description('Name of the storage account the storage roles are scoped to.')
param storageAccountName string

@description('Role definition ids (GUIDs) to assign on the storage account.')
param storageRoleIds array

@description('Name of the App Insights component for applicationInsightsRoleIds; empty when none are given.')
param applicationInsightsName string = ''

@description('Role definition ids (GUIDs) to assign on the App Insights component.')
param applicationInsightsRoleIds array = []

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = if (!empty(applicationInsightsName)) {
  name: applicationInsightsName
}

resource storageRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for roleId in storageRoleIds: {
  name: guid(storage.id, principalId, roleId)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
    principalId: principalId
    principalType: empty(principalType) ? null : principalType
  }
}]

resource applicationInsightsRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for roleId in applicationInsightsRoleIds: {
  name: guid(applicationInsights.id, principalId, roleId)
  scope: applicationInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
    principalId: principalId
    principalType: empty(principalType) ? null : principalType
  }
}]
