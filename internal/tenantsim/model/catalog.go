package model

// Read-only reference data the tenant is generated from. Nothing here is ever written after package
// initialisation; the model copies what it changes.

// ServicePlan is one servicePlans[] entry of a subscribedSku: ids and names from Microsoft's "Product names and
// service plan identifiers for licensing" table (and its mirrors in public scripts).
type ServicePlan struct{ Name, ID string }

var (
	planExchange    = ServicePlan{"EXCHANGE_S_ENTERPRISE", "efb87545-963c-4e0d-99df-69c6916d9eb0"}
	planSharePoint  = ServicePlan{"SHAREPOINTENTERPRISE", "5dbe027f-2339-4123-9542-606e4d348a72"}
	planOfficeWeb   = ServicePlan{"SHAREPOINTWAC", "e95bec33-7c88-4a70-8e19-b10bd9d0c014"}
	planOfficeApps  = ServicePlan{"OFFICESUBSCRIPTION", "43de0ff5-c92c-492b-9116-175376d08c38"}
	planSkype       = ServicePlan{"MCOSTANDARD", "0feaeb32-d00e-4d66-bd5a-43b5b83db82c"}
	planTeams       = ServicePlan{"TEAMS1", "57ff2da0-773e-42df-b2af-ffb7a2317929"}
	planFormsE3     = ServicePlan{"FORMS_PLAN_E3", "2789c901-c14e-48ab-a76a-be334d9d793a"}
	planFormsE5     = ServicePlan{"FORMS_PLAN_E5", "e212cbc7-0961-4c40-9825-01117710dcb1"}
	planSway        = ServicePlan{"SWAY", "a23b959c-7ce8-4e57-9140-b90eb88a9e97"}
	planPlanner     = ServicePlan{"PROJECTWORKMANAGEMENT", "b737dad2-2f6c-4c65-90e3-ca563267e8b9"}
	planLockbox     = ServicePlan{"LOCKBOX_ENTERPRISE", "9f431833-0334-42de-a7dc-70aa40db46db"}
	planIntune      = ServicePlan{"INTUNE_A", "c1ec4a95-1f05-45b3-a911-aa3fa01094f5"}
	planEntraP1     = ServicePlan{"AAD_PREMIUM", "41781fb2-bc02-4b7c-bd55-b576c07bb09d"}
	planEntraP2     = ServicePlan{"AAD_PREMIUM_P2", "eec0eb4f-6444-4f95-aba0-50c24d67f998"}
	planSales       = ServicePlan{"DYN365_ENTERPRISE_SALES", "2da8e897-7791-486b-b08f-cc63c8129df7"}
	planService     = ServicePlan{"DYN365_ENTERPRISE_CUSTOMER_SERVICE", "99340b49-fb81-4b1e-976b-8f2ae8e9394f"}
	planTeamMembers = ServicePlan{"DYN365_ENTERPRISE_TEAM_MEMBERS", "6a54b05e-4fab-40e7-9828-428db3b336fa"}
	planOpsTeam     = ServicePlan{"DYNAMICS_365_FOR_OPERATIONS_TEAM_MEMBERS", "f5aa7b45-8a36-4cd1-bc37-5d06dea98645"}
	planOps         = ServicePlan{"DYNAMICS_365_FOR_OPERATIONS", "95d2cd7b-1007-484b-8595-5e97e63fe189"}
	planPowerAppsD  = ServicePlan{"POWERAPPS_DYN_APPS", "874fc546-6efe-4d22-90b8-5c4e7aa59f4b"}
	planFlowD       = ServicePlan{"FLOW_DYN_APPS", "7e6d7d78-73de-46ba-83b1-6d25117334ba"}
	planFlowFree    = ServicePlan{"FLOW_P2_VIRAL", "50e68c76-46c6-4674-81f9-75456511b170"}
	planCDS         = ServicePlan{"COMMON_DATA_SERVICE", "d1142cfd-872e-4e77-b6ff-d98ec5a51f66"}
	planCRMPro      = ServicePlan{"CRMSTANDARD", "f9646fb2-e3b2-4309-95de-dc4833737456"}
)

// SKUDef is a product the tenant can buy. Part numbers and skuIds are the reference's table (§2b).
type SKUDef struct {
	Part, ID string
	Plans    []ServicePlan
	Optional []int // indexes into plans an admin may disable per user (assignedLicenses[].disabledPlans)
	Premium  bool  // includes Entra ID P1: only bought by tenants with P1
}

const (
	SKUSales = iota
	SKUService
	SKUTeamMembers
	SKUOps
	SKUPowerApps
	SKUO365E3
	SKUO365E5
	SKUM365E3
	SKUM365E5
	SKUEntraP1
	SKUFlowFree
	SKUCRMLegacy
	SKUCount
)

var o365E3Plans = []ServicePlan{planExchange, planSharePoint, planOfficeWeb, planOfficeApps, planSkype, planTeams, planFormsE3, planSway, planPlanner}
var o365E5Plans = []ServicePlan{planExchange, planSharePoint, planOfficeWeb, planOfficeApps, planSkype, planTeams, planFormsE5, planSway, planPlanner, planLockbox}

// SKUCatalog are the products the tenant can buy, by SKU constant.
var SKUCatalog = [SKUCount]SKUDef{
	SKUSales:       {Part: "DYN365_ENTERPRISE_SALES", ID: "1e1a282c-9c54-43a2-9310-98ef728faace", Plans: []ServicePlan{planSales, planPowerAppsD, planFlowD}, Optional: []int{2}},
	SKUService:     {Part: "DYN365_ENTERPRISE_CUSTOMER_SERVICE", ID: "749742bf-0d37-4158-a120-33567104deeb", Plans: []ServicePlan{planService, planPowerAppsD, planFlowD}, Optional: []int{2}},
	SKUTeamMembers: {Part: "DYN365_TEAM_MEMBERS", ID: "7ac9fe77-66b7-4e5e-9e46-10eed1cff547", Plans: []ServicePlan{planTeamMembers, planOpsTeam, planFlowD}, Optional: []int{2}},
	SKUOps:         {Part: "Dynamics_365_for_Operations", ID: "ccba3cfe-71ef-423a-bd87-b6df3dce59a9", Plans: []ServicePlan{planOps, planFlowD}, Optional: []int{1}},
	SKUPowerApps:   {Part: "POWERAPPS_PER_USER", ID: "b30411f5-fea1-4a59-9ad9-3db7c7ead579", Plans: []ServicePlan{planCDS, planFlowD}, Optional: []int{1}},
	SKUO365E3:      {Part: "ENTERPRISEPACK", ID: "6fd2c87f-b296-42f0-b197-1e91e994b900", Plans: o365E3Plans, Optional: []int{7, 8}},
	SKUO365E5:      {Part: "ENTERPRISEPREMIUM", ID: "c7df2760-2c81-4ef7-b578-5b5392b571df", Plans: o365E5Plans, Optional: []int{7, 8, 9}},
	SKUM365E3:      {Part: "SPE_E3", ID: "05e9a617-0261-4cee-bb44-138d3ef5d965", Plans: append(append([]ServicePlan{}, o365E3Plans...), planEntraP1, planIntune), Optional: []int{7, 8}, Premium: true},
	SKUM365E5:      {Part: "SPE_E5", ID: "06ebc4ee-1bb5-47dd-8120-11324bc54e06", Plans: append(append([]ServicePlan{}, o365E5Plans...), planEntraP1, planEntraP2, planIntune), Optional: []int{7, 8, 9}, Premium: true},
	SKUEntraP1:     {Part: "AAD_PREMIUM", ID: "078d2b04-f1bd-4111-bbd4-b4b1b354cef4", Plans: []ServicePlan{planEntraP1}, Premium: true},
	SKUFlowFree:    {Part: "FLOW_FREE", ID: "f30db892-07e9-47e9-837c-80727f46fd3d", Plans: []ServicePlan{planFlowFree}},
	SKUCRMLegacy:   {Part: "CRMSTANDARD", ID: "d17b27af-3f49-4822-99f9-56a661538792", Plans: []ServicePlan{planCRMPro}},
}

// SignInApp is an application a user signs in to, with the resource it asks a token for (signIn.appId,
// appDisplayName, resourceId, resourceDisplayName).
type SignInApp struct{ AppID, AppName, ResourceID, ResourceName string }

const (
	AppCRM = iota
	AppERP
	AppPowerApps
	AppOutlook
	AppTeams
	AppOfficeHome
	AppSharePoint
	AppCount
)

// SignInApps are the applications users sign in to, by App constant.
var SignInApps = [AppCount]SignInApp{
	AppCRM:        {"00000007-0000-0000-c000-000000000000", "Dynamics CRM Online", "00000007-0000-0000-c000-000000000000", "Dataverse"},
	AppERP:        {"00000015-0000-0000-c000-000000000000", "Microsoft Dynamics ERP", "00000015-0000-0000-c000-000000000000", "Microsoft Dynamics ERP"},
	AppPowerApps:  {"3e62f81e-590b-425b-9531-cad6683656cf", "Power Apps", "475226c6-020e-4fb2-8a90-7a972cbfc1d4", "PowerApps Service"},
	AppOutlook:    {"00000002-0000-0ff1-ce00-000000000000", "Office 365 Exchange Online", "00000002-0000-0ff1-ce00-000000000000", "Office 365 Exchange Online"},
	AppTeams:      {"1fec8e78-bce4-4aaf-ab1b-5451cc387264", "Microsoft Teams", "00000003-0000-0000-c000-000000000000", "Microsoft Graph"},
	AppOfficeHome: {"4765445b-32c6-49b0-83e6-1d93765276ca", "OfficeHome", "00000003-0000-0000-c000-000000000000", "Microsoft Graph"},
	AppSharePoint: {"00000003-0000-0ff1-ce00-000000000000", "Office 365 SharePoint Online", "00000003-0000-0ff1-ce00-000000000000", "Office 365 SharePoint Online"},
}

// Device is a signIn.deviceDetail with the clientAppUsed that goes with it.
type Device struct{ ClientApp, OS, Browser string }

// Devices are the devices users sign in from.
var Devices = []Device{
	{"Browser", "Windows 10", "Edge 124.0.0"},
	{"Browser", "Windows 10", "Chrome 124.0.0"},
	{"Browser", "MacOs", "Safari 17.4"},
	{"Mobile Apps and Desktop clients", "Windows 10", "Rich Client 4.61.0.0"},
	{"Mobile Apps and Desktop clients", "Ios", "Mobile Safari"},
	{"Mobile Apps and Desktop clients", "Android", "Chrome Mobile 124.0.0"},
}

// Place is a signIn.location.
type Place struct {
	City, State, Country string
	Lat, Lon             string // as Graph writes them: float32 widened to float64
	IPFirst              uint64 // first octet of addresses there
}

// Places are where users sign in from.
var Places = []Place{
	{"Redmond", "Washington", "US", "47.68050003051758", "-122.12094116210938", 131},
	{"New York", "New York", "US", "40.71274948120117", "-74.00597381591797", 52},
	{"London", "England", "GB", "51.50852966308594", "-0.12574000656604767", 81},
	{"Amsterdam", "Noord-Holland", "NL", "52.37403106689453", "4.889689922332764", 145},
	{"Berlin", "Berlin", "DE", "52.524368286132812", "13.410530090332031", 91},
	{"Bengaluru", "Karnataka", "IN", "12.971599578857422", "77.59459686279297", 49},
}

// Failure is a signIn.status of a failed sign-in (errorCode != 0).
type Failure struct {
	Code   int
	Reason string
	CA     bool // blocked by conditional access
}

// Failures are the reasons a sign-in fails, by SignIn.Fail.
var Failures = []Failure{
	{50126, "Error validating credentials due to invalid username or password.", false},
	{50074, "Strong Authentication is required.", false},
	{50140, "This error occurred due to 'Keep me signed in' interrupt when the user was signing in.", false},
	{53003, "Access has been blocked by Conditional Access policies. The access policy does not allow token issuance.", true},
	{50053, "Account is locked because user tried to sign in too many times with an incorrect user ID or password.", false},
}

// FirstNames and LastNames make the users' names.
var FirstNames = []string{"Adele", "Alex", "Diego", "Grady", "Henrietta", "Isaiah", "Johanna", "Joni", "Lee", "Lidia",
	"Lynne", "Megan", "Miriam", "Nestor", "Patti", "Pradeep", "Irvin", "Allan", "Christie", "Debra", "Emily", "Enrico",
	"Gerhart", "Jakob", "Lisa", "Marta", "Nina", "Omar", "Priya", "Ravi", "Sofia", "Tomas", "Uma", "Wei", "Yara", "Zoe"}

// LastNames are the users' surnames.
var LastNames = []string{"Vance", "Wilber", "Siciliani", "Archie", "Mueller", "Delgado", "Lauer", "Sherman", "Gu",
	"Holloway", "Valdez", "Bowen", "Graham", "Wilke", "Fernandez", "Gupta", "Sink", "Deyoung", "Cline", "Berg", "Braun",
	"Chen", "Dubois", "Eriksen", "Fischer", "Haddad", "Ito", "Jansen", "Kowalski", "Larsen", "Moreau", "Nakamura",
	"Okafor", "Petrov", "Rossi", "Silva"}

// Departments are the members' departments, by User.Dept.
var Departments = []string{"Sales", "Customer Service", "Finance", "Operations", "Marketing", "IT", "HR", "Legal",
	"Manufacturing", "Retail"}

// JobTitles go with the departments, by User.Dept.
var JobTitles = []string{"Account Manager", "Service Agent", "Controller", "Planner", "Marketing Lead", "Engineer",
	"Recruiter", "Counsel", "Production Lead", "Store Manager"}
var guestDomains = []string{"fabrikam.com", "northwindtraders.com", "adventure-works.com", "wingtiptoys.com"}
